"""`python -m llmproc_mcp`: the same as the `llmproc-mcp` command."""

import sys

from llmproc_mcp.server import main

sys.exit(main())
