import sys

from pilot_tui.data.agent.run import main

sys.exit(main(sys.argv[1:]))
