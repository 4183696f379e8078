import sys

from pilot_tui.data.agent.run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
