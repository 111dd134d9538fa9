# Moves a restore of Grafana's data into place: run by the one-off task `<name>-restore`
# (the CLI's `restore`), with the file system's root mounted at $DATA_ROOT and Grafana
# stopped. AWS Backup restored /grafana into /aws-backup-restore_<time>/grafana; the newest
# such directory replaces /grafana, whose old contents go to /$ASIDE/grafana.
# Exit codes (the CLI explains them): 3 nothing restored, 4 no grafana directory in it,
# 5 $ASIDE already exists.
set -eu
cd "${DATA_ROOT:-/mnt/efs}"
ASIDE="${ASIDE:?ASIDE is the directory the replaced data goes to}"
restored=""
for candidate in aws-backup-restore_*; do
  [ -d "$candidate" ] && restored="$candidate"
done
if [ -z "$restored" ]; then
  echo "no aws-backup-restore_* directory at the file system's root" >&2
  exit 3
fi
if [ ! -d "$restored/grafana" ]; then
  echo "$restored has no grafana directory: $(ls -A "$restored" | head -5 | tr '\n' ' ')" >&2
  exit 4
fi
if [ -e "$ASIDE" ]; then
  echo "$ASIDE already exists" >&2
  exit 5
fi
mkdir "$ASIDE"
if [ -d grafana ]; then
  mv grafana "$ASIDE/grafana"
fi
mv "$restored/grafana" grafana
rmdir "$restored" 2>/dev/null || echo "kept $restored: it holds more than grafana" >&2
echo "restored $restored/grafana into /grafana; the data it replaced is in /$ASIDE/grafana"
