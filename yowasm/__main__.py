from yowasm.cli import main

main()
