terraform {
  # Write-only attributes and ephemeral resources keep generated secrets out of the state.
  required_version = ">= 1.11"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 7.0"
    }
  }
}
