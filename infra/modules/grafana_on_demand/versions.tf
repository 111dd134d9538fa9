terraform {
  # Write-only attributes and ephemeral resources keep generated secrets out of the state.
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 7.0"
      # The front door's certificate lives in us-east-1, as CloudFront wants it.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
