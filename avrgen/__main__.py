from avrgen.cli import main

main()
