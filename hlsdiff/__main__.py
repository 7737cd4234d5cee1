from hlsdiff.cli import main

main()
