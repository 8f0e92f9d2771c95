"""``python -m ucwa_flow`` is ``ucwa-flow``."""

from ucwa_flow.cli import main

if __name__ == "__main__":
    main()
