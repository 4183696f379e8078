"""A static site in an S3 bucket behind CloudFront."""
