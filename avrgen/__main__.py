from avrgen.cli.main import main

main()
