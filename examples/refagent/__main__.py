from refagent.cli import entry

entry()
