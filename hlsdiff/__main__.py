from hlsdiff.cli import entry

entry()
