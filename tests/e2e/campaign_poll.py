"""The campaign flow the durable and fail-over campaign tests run: three people asked one
at a time, a shared count, one report webhook at ``REPORT_URL`` when everyone is done."""

FLOW = """\
version: 1
name: poll
start: ask
outbound:
  to: [sip:lenea@contoso.com, sip:adrianag@contoso.com, sip:marco@contoso.com]
  message: "One question?"
  timeout: 2m
  campaign:
    at_once: 1
    variables: {yes: 0, answers: []}
    report:
      url: REPORT_URL
      json:
        yes: "{{ campaign.yes }}"
        answers: "{{ campaign.answers }}"
        people: "{{ campaign.people }}"
        done: "{{ campaign.done }}/{{ campaign.size }}"
states:
  ask:
    enter:
      - say: Yes or no?
    messages:
      - choice: ["yes", "no"]
        do:
          - set:
              campaign.yes: "{{ campaign.yes + (1 if message == 'yes' else 0) }}"
              campaign.answers: "{{ campaign.answers + [caller.uri + ' ' + message] }}"
          - say: Thanks.
          - stop
"""
