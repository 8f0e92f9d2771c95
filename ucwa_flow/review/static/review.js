/* ucwa-flow review: the behaviour of the review pages.
 *
 * Plain JavaScript shipped with the package: no build step, no library, nothing fetched
 * from elsewhere. The pages are rendered on the server; this script
 *   - selects a state or edge of the graph on click and shows its source line (through
 *     source.js, loaded first: window.ucwaShowLine),
 *   - follows the live feed (EventSource on the review app's own event stream) and writes
 *     the counts on the states, the lifecycle bar and the list of conversations,
 *   - replays one conversation (live, or stored: #replay-data) step by step on the graph.
 * The ids, classes and data- attributes it reads and writes are listed in docs/review.md.
 */
(function () {
  "use strict";

  var main = document.querySelector("main.review");
  if (!main) {
    return;
  }
  var svg = document.getElementById("graph");
  var flowName = main.getAttribute("data-flow");
  var lifecycleKind = main.getAttribute("data-lifecycle-kind");

  function q(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function attrValue(text) {
    return window.CSS && CSS.escape ? CSS.escape(text) : String(text).replace(/["\\]/g, "\\$&");
  }

  // -- the source pane (source.js) ---------------------------------------------------------

  var showLine = window.ucwaShowLine || function () {};

  function select(element) {
    if (!svg) {
      return;
    }
    q(".selected", svg).forEach(function (e) { e.classList.remove("selected"); });
    element.classList.add("selected");
    var line = element.getAttribute("data-line");
    if (line) {
      showLine(line, element.getAttribute("data-file"));
    }
  }

  function nodeOf(state) {
    return svg ? svg.querySelector('.node.state[data-state="' + attrValue(state) + '"]') : null;
  }

  if (svg) {
    svg.addEventListener("click", function (event) {
      var target = event.target.closest(".edge, .node");
      if (!target || !svg.contains(target)) {
        return;
      }
      var goto = target.getAttribute("data-goto"); // a "back to X" tag stands for state X
      if (goto !== null && nodeOf(goto)) {
        target = nodeOf(goto);
      }
      select(target);
    });
    q(".edge[data-count]", svg).forEach(function (edge) {
      var title = edge.querySelector("title");
      var count = edge.getAttribute("data-count");
      if (title) {
        title.textContent += " — taken " + count + " time" + (count === "1" ? "" : "s");
      }
    });
  }

  q("#problems li").forEach(function (item) {
    item.addEventListener("click", function () {
      var state = item.getAttribute("data-state");
      var node = state !== null ? nodeOf(state) : null;
      if (node) {
        select(node);
      }
      showLine(item.getAttribute("data-line"), item.getAttribute("data-file"));
    });
  });


  // -- replay of one conversation ------------------------------------------------------------

  var replay = { detail: null, index: -1, timer: null };

  function clock(at) {
    var match = /T(\d\d:\d\d:\d\d)/.exec(at || "");
    return match ? match[1] : "";
  }

  function describe(step) {
    var text = step.text === null || step.text === undefined ? "" : step.text;
    switch (step.kind) {
      case "enter":
        return "→ " + step.state + (step.from ? "  (from " + step.from + ")" : "");
      case "in":
        return "caller: " + text;
      case "out":
        return "bot: " + text;
      case "match":
        return "matched " + text;
      case "nomatch":
        return "no match" + (text ? ": " + text : "");
      case "timeout":
        return "timeout " + text;
      case "ended":
        return "ended" + (text ? ": " + text : "");
      default:
        return step.kind + (text ? ": " + text : "");
    }
  }

  // One end of an edge: the kind of its node (start, state, any, end: data-from-kind /
  // data-to-kind) and, for a state, its name. A state may be called "start", "end" or
  // "any state" like a pseudo-node: the kind tells the two apart, never the name.
  function edgeEnd(side, kind, state) {
    var selector = "[data-" + side + '-kind="' + kind + '"]';
    return kind === "state" ? selector + "[data-" + side + '="' + attrValue(state) + '"]' : selector;
  }

  // The edges from state `from` (none: the start) to `toKind` (`to` for a state); failing
  // those, the edges from "any state" (a global command) to the same place.
  function edgesBetween(from, toKind, to) {
    if (!svg) {
      return [];
    }
    var none = from === null || from === undefined;
    var target = edgeEnd("to", toKind, to);
    var found = q(".edge" + (none ? edgeEnd("from", "start") : edgeEnd("from", "state", from)) + target, svg);
    if (!found.length) {
      found = q(".edge" + edgeEnd("from", "any") + target, svg);
    }
    return found;
  }

  function setStep(index) {
    var detail = replay.detail;
    if (!detail || !detail.steps.length) {
      return;
    }
    index = Math.max(0, Math.min(detail.steps.length - 1, index));
    replay.index = index;
    if (svg) {
      q(".visited, .current-step", svg).forEach(function (e) {
        e.classList.remove("visited");
        e.classList.remove("current-step");
      });
    }
    q("#transcript li.step").forEach(function (li, i) {
      li.classList.toggle("current", i === index);
      li.classList.toggle("past", i < index);
    });
    var trigger = null; // the line of what moved the conversation (a handler, a step)
    for (var i = 0; i <= index; i++) {
      var step = detail.steps[i];
      if ((step.kind === "match" || step.kind === "nomatch" || step.kind === "timeout") && step.line) {
        trigger = String(step.line);
      }
      if (step.kind === "enter") {
        var node = nodeOf(step.state);
        if (node) {
          node.classList.add("visited");
        }
        var edges = edgesBetween(step.from, "state", step.state);
        var taken = edges.filter(function (e) { return e.getAttribute("data-line") === trigger; });
        (taken.length ? taken : edges).forEach(function (e) { e.classList.add("visited"); });
        trigger = null;
      } else if (step.kind === "ended" && step.state) {
        edgesBetween(step.state, "end").forEach(function (e) { e.classList.add("visited"); });
      }
    }
    var current = detail.steps[index];
    var here = current.state ? nodeOf(current.state) : null;
    if (here) {
      here.classList.add("current-step");
    }
    if (current.line) {
      showLine(current.line);
    }
    var item = document.querySelector('#transcript li.step[data-index="' + index + '"]');
    if (item) {
      var list = document.getElementById("transcript");
      if (list && list.scrollHeight > list.clientHeight) {
        list.scrollTop = Math.max(0, item.offsetTop - list.clientHeight / 2);
      }
    }
  }

  function showReplay(detail, follow) {
    var list = document.getElementById("transcript");
    if (!list) {
      return;
    }
    var wasAtEnd = !replay.detail || replay.index >= replay.detail.steps.length - 1;
    var same = replay.detail && replay.detail.id === detail.id;
    replay.detail = detail;
    list.innerHTML = "";
    detail.steps.forEach(function (step, i) {
      var li = document.createElement("li");
      li.className = "step kind-" + step.kind;
      li.setAttribute("data-index", String(i));
      li.setAttribute("data-kind", step.kind);
      li.setAttribute("data-state", step.state || "");
      var time = document.createElement("span");
      time.className = "at";
      time.textContent = clock(step.at);
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = describe(step);
      li.appendChild(time);
      li.appendChild(text);
      list.appendChild(li);
    });
    var title = document.getElementById("replay-title");
    if (title) {
      title.textContent = (detail.caller || "") + (detail.active ? " (active)" : " (ended)");
    }
    q("#conversations li.conversation").forEach(function (li) {
      li.classList.toggle("chosen", li.getAttribute("data-conversation") === detail.id);
    });
    var last = detail.steps.length - 1;
    setStep(same && !(follow && wasAtEnd) ? replay.index : last);
  }

  function stopPlaying() {
    if (replay.timer !== null) {
      window.clearInterval(replay.timer);
      replay.timer = null;
    }
    var play = document.getElementById("step-play");
    if (play) {
      play.textContent = "▶ play";
    }
  }

  function button(id, action) {
    var element = document.getElementById(id);
    if (element) {
      element.addEventListener("click", action);
    }
  }

  button("step-prev", function () { stopPlaying(); setStep(replay.index - 1); });
  button("step-next", function () { stopPlaying(); setStep(replay.index + 1); });
  button("step-play", function () {
    if (replay.timer !== null || !replay.detail) {
      stopPlaying();
      return;
    }
    if (replay.index >= replay.detail.steps.length - 1) {
      setStep(0);
    }
    this.textContent = "❚❚ pause";
    replay.timer = window.setInterval(function () {
      if (replay.index >= replay.detail.steps.length - 1) {
        stopPlaying();
        return;
      }
      setStep(replay.index + 1);
    }, 700);
  });

  var transcript = document.getElementById("transcript");
  if (transcript) {
    transcript.addEventListener("click", function (event) {
      var item = event.target.closest("li.step");
      if (item) {
        stopPlaying();
        setStep(Number(item.getAttribute("data-index")));
      }
    });
  }

  var stored = document.getElementById("replay-data");
  if (stored) {
    showReplay(JSON.parse(stored.textContent), true);
  }

  // -- the live feed ---------------------------------------------------------------------------

  var chosen = null; // id of the conversation replayed
  var updated = {}; // id -> updated_at, to refetch the chosen one when it moves

  function loadConversation(id, follow) {
    var base = main.getAttribute("data-detail");
    if (!base) {
      return;
    }
    chosen = id;
    fetch(base + encodeURIComponent(id), { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (detail) {
        if (detail && chosen === id) {
          showReplay(detail, follow);
        }
      })
      .catch(function () {});
  }

  var conversations = document.getElementById("conversations");
  if (conversations) {
    conversations.addEventListener("click", function (event) {
      var item = event.target.closest("li.conversation");
      if (!item) {
        return;
      }
      var id = item.getAttribute("data-conversation");
      var flow = item.getAttribute("data-flow");
      if (!main.getAttribute("data-detail") && flow) {
        window.location.href = "/flows/" + encodeURIComponent(flow) + "#conversation=" + encodeURIComponent(id);
        return;
      }
      stopPlaying();
      replay.detail = null;
      loadConversation(id, true);
    });
  }

  function writeCounts(counts) {
    q(".live-count", svg || document).forEach(function (text) {
      var n = counts[text.getAttribute("data-state")] || 0;
      text.textContent = n ? String(n) : "";
      var node = text.closest(".node");
      if (node) {
        node.classList.toggle("has-live", n > 0);
      }
    });
  }

  function writeLifecycle(lifecycle) {
    q("#lifecycle [data-lifecycle]").forEach(function (span) {
      var kind = lifecycle[span.getAttribute("data-lifecycle")] || {};
      span.textContent = String(kind[span.getAttribute("data-lifecycle-state")] || 0);
    });
  }

  function writeConversations(list) {
    if (!conversations) {
      return;
    }
    conversations.innerHTML = "";
    list.forEach(function (c) {
      var li = document.createElement("li");
      li.className = "conversation" + (c.active ? " active" : " ended") + (c.id === chosen ? " chosen" : "");
      li.setAttribute("data-conversation", c.id);
      li.setAttribute("data-flow", c.flow || "");
      var who = document.createElement("span");
      who.className = "caller";
      who.textContent = (c.caller || "(unknown)").replace(/^sip:/, "");
      var where = document.createElement("span");
      where.className = "where";
      where.textContent = (c.state || "") + (c.lifecycle ? " · " + c.lifecycle : "") + (c.active ? "" : " · ended");
      li.appendChild(who);
      li.appendChild(where);
      conversations.appendChild(li);
    });
  }

  function applySnapshot(snapshot) {
    var counts;
    if (lifecycleKind) {
      counts = (snapshot.lifecycle || {})[lifecycleKind] || {};
    } else {
      counts = ((snapshot.flows || {})[flowName] || {}).states || {};
    }
    writeCounts(counts);
    writeLifecycle(snapshot.lifecycle || {});
    var list = (snapshot.conversations || []).filter(function (c) {
      return lifecycleKind || c.flow === flowName;
    });
    writeConversations(list);
    list.forEach(function (c) {
      if (c.id === chosen && updated[c.id] !== c.updated_at) {
        loadConversation(c.id, true);
      }
      updated[c.id] = c.updated_at;
    });
  }

  var status = document.getElementById("live-status");
  var streamOpen = false;
  var upstream = null;

  function writeStatus() {
    if (!status) {
      return;
    }
    var state = "connecting";
    var detail = "";
    if (streamOpen && upstream) {
      state = upstream.state === "live" ? "live" : "reconnecting";
      detail = upstream.detail || "";
    } else if (!streamOpen && upstream) {
      state = "reconnecting";
    }
    status.textContent = state;
    status.title = detail;
    status.className = "live-status " + state;
  }

  if (main.getAttribute("data-live") === "1" && window.EventSource) {
    var source = new EventSource(main.getAttribute("data-events"));
    source.onopen = function () { streamOpen = true; writeStatus(); };
    source.onerror = function () { streamOpen = false; upstream = upstream || { state: "reconnecting" }; writeStatus(); };
    source.addEventListener("status", function (event) {
      streamOpen = true;
      upstream = JSON.parse(event.data);
      writeStatus();
    });
    source.addEventListener("snapshot", function (event) {
      streamOpen = true;
      applySnapshot(JSON.parse(event.data));
    });
    var hash = /conversation=([^&]+)/.exec(window.location.hash);
    if (hash) {
      loadConversation(decodeURIComponent(hash[1]), true);
    }
  }
})();
