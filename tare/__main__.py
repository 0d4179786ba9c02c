from tare.cli import entry

entry()
