# Restoring Grafana's data from AWS Backup (the CLI's `restore`, docs/deploy.md): AWS Backup
# restores a recovery point into /aws-backup-restore_<time>/ at the file system's root,
# outside the access point Grafana mounts; this one-off task mounts the root and moves the
# restored /grafana into the access point's place (restore.sh), keeping the replaced data.

locals {
  restore = var.persistent_storage && var.efs_backup
}

# What AWS Backup restores with (AWS's managed policy for restores).
data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backup_restore" {
  count              = local.restore ? 1 : 0
  name_prefix        = "${var.name}-bkrestore-"
  assume_role_policy = data.aws_iam_policy_document.backup_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "backup_restore" {
  count      = local.restore ? 1 : 0
  role       = aws_iam_role.backup_restore[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"
}

# The one-off task's own role: it mounts the root (Grafana's role only its access point).
resource "aws_iam_role" "restore_task" {
  count              = local.restore ? 1 : 0
  name_prefix        = "${var.name}-restore-"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "restore_task" {
  count = local.restore ? 1 : 0
  name  = "move-restored-data"
  role  = aws_iam_role.restore_task[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "MountTheRoot"
      Effect   = "Allow"
      Action   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
      Resource = [aws_efs_file_system.grafana[0].arn]
    }]
  })
}

resource "aws_ecs_task_definition" "restore" {
  count                    = local.restore ? 1 : 0
  family                   = "${var.name}-restore"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = "256"
  memory                   = "512"
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.restore_task[0].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.architecture
  }

  # Grafana's own image: it has a shell and mv, and is pulled the way Grafana's is. As root,
  # to move files of any owner (AWS Backup keeps their uid, 472).
  container_definitions = jsonencode([{
    name        = "restore"
    image       = var.grafana_image
    essential   = true
    user        = "0"
    entryPoint  = ["/bin/sh", "-c"]
    command     = [file("${path.module}/restore.sh")]
    environment = [{ name = "DATA_ROOT", value = "/mnt/efs" }]
    mountPoints = [{ sourceVolume = "efs-root", containerPath = "/mnt/efs", readOnly = false }]
    # It writes only to the file system.
    readonlyRootFilesystem = true
    logConfiguration = merge(local.log_configuration, {
      options = merge(local.log_configuration.options, { "awslogs-stream-prefix" = "restore" })
    })
  }])

  volume {
    name = "efs-root"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.grafana[0].id
      root_directory     = "/"
      transit_encryption = "ENABLED"
      authorization_config {
        iam = "ENABLED"
      }
    }
  }

  tags = local.tags
}
