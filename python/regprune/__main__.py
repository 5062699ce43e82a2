import sys

from regprune.cli import main

sys.exit(main())
