from mall.cli import main

main()
