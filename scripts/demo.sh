#!/usr/bin/env bash
# The embedded run: a Maildir inbox, SQLite, a local outbox, and the static site served by
# the daemon itself; no server to install. Drops the sample submissions, runs one pass,
# prints a reviewer's link and the site's address, then runs the daemon until Ctrl-C.
# Honours BIENTAP_DATA_DIR, BIENTAP_DATABASE_URL, BIENTAP_WEB_ADDRESS, BIENTAP_PUBLIC_URL
# and BIENTAP_LINK_KEY. Safe to run again: samples already delivered are not added twice.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
config=config/demo.toml
export BIENTAP_DATA_DIR=${BIENTAP_DATA_DIR:-var}
export BIENTAP_DATABASE_URL=${BIENTAP_DATABASE_URL:-sqlite:///$BIENTAP_DATA_DIR/bientap.db}
export BIENTAP_WEB_ADDRESS=${BIENTAP_WEB_ADDRESS:-127.0.0.1:8470}
export BIENTAP_PUBLIC_URL=${BIENTAP_PUBLIC_URL:-http://$BIENTAP_WEB_ADDRESS}
mkdir -p "$BIENTAP_DATA_DIR/demo"
log="$BIENTAP_DATA_DIR/demo/daemon.log"
if [ -z "${BIENTAP_LINK_KEY:-}" ]; then  # the key that signs reviewers' links, made once
  key_file="$BIENTAP_DATA_DIR/link.key"
  if [ ! -s "$key_file" ]; then
    (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" >"$key_file")
  fi
  BIENTAP_LINK_KEY=$(cat "$key_file")
  export BIENTAP_LINK_KEY
fi
# the daemon will serve the link pages and the site here: say so now if it cannot
if ! .venv/bin/python - "$BIENTAP_WEB_ADDRESS" 2>/dev/null <<'PY'
import socket, sys
from pipeline.web import parse_address
host, port = parse_address(sys.argv[1])
with socket.socket(socket.getaddrinfo(host, port)[0][0]) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
PY
then
  echo "Không mở được địa chỉ $BIENTAP_WEB_ADDRESS (có thể daemon của lần chạy trước vẫn đang chạy)." >&2
  echo "Hãy dừng nó, hoặc chọn cổng khác: BIENTAP_WEB_ADDRESS=127.0.0.1:8471 $0" >&2
  exit 1
fi

echo "Thư mẫu vào hộp thư $BIENTAP_DATA_DIR/demo/inbox:"
.venv/bin/python -m pipeline.samples "$BIENTAP_DATA_DIR/demo/inbox" bbt@demo.bientap.vn
echo "Xử lý lượt đầu (nhật ký: $log)"
if ! .venv/bin/python run_pipeline.py --config "$config" --once 2>>"$log"; then
  tail -n 20 "$log" >&2
  exit 1
fi
echo
echo "Các mục đã lưu (bientap list):"
.venv/bin/bientap --config "$config" list
echo
echo "Thư hồi đáp và thư mời duyệt đã gửi nằm trong $BIENTAP_DATA_DIR/demo/outbox/new/"
echo "Xem một mục: .venv/bin/bientap --config $config show <id>"
echo
link=$(.venv/bin/python -m pipeline.samples --link "$config")
if [ -n "$link" ]; then
  echo "Mở liên kết duyệt này trong trình duyệt và bấm «Duyệt»:"
  echo "  $link"
else
  echo "Không còn tin bài nào chờ duyệt."
fi
echo "Tin bài được duyệt sẽ xuất hiện trên cổng thông tin chạy thử:"
echo "  ${BIENTAP_PUBLIC_URL%/}/cong/"
echo
echo "Daemon đang chạy (nhật ký: $log). Bấm Ctrl-C để dừng."
exec .venv/bin/python run_pipeline.py --config "$config" 2>>"$log"
