# Grafana's data (SQLite database, plugins) on EFS: nothing is lost at stop.

resource "aws_efs_file_system" "grafana" {
  count            = var.persistent_storage ? 1 : 0
  creation_token   = "${var.name}-data"
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  lifecycle_policy {
    transition_to_ia = "AFTER_7_DAYS"
  }

  lifecycle_policy {
    transition_to_primary_storage_class = "AFTER_1_ACCESS"
  }

  tags = merge(local.tags, { Name = "${var.name}-data" })

  lifecycle {
    # A new creation_token or key would replace the volume, every dashboard with it, and
    # Grafana would boot empty without a word: a rename keeps the volume, and a new key is
    # refused (a destroy the user means still works: no prevent_destroy).
    ignore_changes = [creation_token]
    precondition {
      condition     = terraform_data.efs_key.output == null || terraform_data.efs_key.output == coalesce(var.kms_key_arn, "aws/elasticfilesystem")
      error_message = "kms_key_arn changed for an existing Grafana volume: EFS cannot re-encrypt in place, and replacing the file system would delete every dashboard. To move to another key: take a backup (AWS Backup, the daily plan), create a new file system with the key, restore into it (docs/deploy.md), then remove the old one from the state; or set kms_key_arn back."
    }
  }
}

# The key the volume was created with, kept: what the precondition above compares against.
resource "terraform_data" "efs_key" {
  input = coalesce(var.kms_key_arn, "aws/elasticfilesystem")
  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_efs_backup_policy" "grafana" {
  count          = var.persistent_storage && var.efs_backup ? 1 : 0
  file_system_id = aws_efs_file_system.grafana[0].id
  backup_policy {
    status = "ENABLED"
  }
}

resource "aws_efs_mount_target" "grafana" {
  # count, not for_each: subnet ids are often unknown until the VPC is applied.
  count           = var.persistent_storage ? length(var.subnet_ids) : 0
  file_system_id  = aws_efs_file_system.grafana[0].id
  subnet_id       = var.subnet_ids[count.index]
  security_groups = [aws_security_group.efs[0].id]
}

resource "aws_efs_access_point" "grafana" {
  count          = var.persistent_storage ? 1 : 0
  file_system_id = aws_efs_file_system.grafana[0].id

  # Grafana's image runs as uid/gid 472.
  posix_user {
    uid = 472
    gid = 472
  }

  root_directory {
    path = "/grafana"
    creation_info {
      owner_uid   = 472
      owner_gid   = 472
      permissions = "0750"
    }
  }

  tags = local.tags
}

resource "aws_efs_file_system_policy" "grafana" {
  count          = var.persistent_storage ? 1 : 0
  file_system_id = aws_efs_file_system.grafana[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid       = "TaskThroughAccessPointOverTls"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.task.arn }
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource  = aws_efs_file_system.grafana[0].arn
        Condition = {
          Bool         = { "aws:SecureTransport" = "true" }
          StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.grafana[0].arn }
        }
      }
      ],
      # The restore's one-off task (restore.tf), at the root, as root: it moves AWS Backup's
      # restored directory into the access point's place.
      local.restore ? [{
        Sid       = "RestoreTaskAtTheRootOverTls"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.restore_task[0].arn }
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
        Resource  = aws_efs_file_system.grafana[0].arn
        Condition = { Bool = { "aws:SecureTransport" = "true" } }
      }] : [],
    )
  })
}
