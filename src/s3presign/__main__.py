from s3presign.cli.main import main

main()
