#!/usr/bin/env bash
# The embedded run: a Maildir inbox, SQLite, a local outbox; no server to install.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export BIENTAP_DATA_DIR=${BIENTAP_DATA_DIR:-var}
export BIENTAP_DATABASE_URL=${BIENTAP_DATABASE_URL:-sqlite:///$BIENTAP_DATA_DIR/bientap.db}
if [ -z "${BIENTAP_LINK_KEY:-}" ]; then  # the key that signs reviewers' links, made once
  key_file="$BIENTAP_DATA_DIR/link.key"
  if [ ! -s "$key_file" ]; then
    mkdir -p "$BIENTAP_DATA_DIR"
    (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" >"$key_file")
  fi
  BIENTAP_LINK_KEY=$(cat "$key_file")
  export BIENTAP_LINK_KEY
fi
echo "Thư mẫu vào hộp thư $BIENTAP_DATA_DIR/demo/inbox:"
.venv/bin/python -m pipeline.samples "$BIENTAP_DATA_DIR/demo/inbox" bbt@demo.bientap.vn
.venv/bin/python run_pipeline.py --config config/demo.toml --once
echo
echo "Các mục đã lưu (bientap list):"
.venv/bin/bientap --config config/demo.toml list
echo
echo "Thư hồi đáp và thư mời duyệt đã gửi nằm trong $BIENTAP_DATA_DIR/demo/outbox/new/"
link=$(.venv/bin/python - "$BIENTAP_DATA_DIR/demo/outbox" <<'PY'
import mailbox, re, sys
for msg in mailbox.Maildir(sys.argv[1], create=False):
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            found = re.search(r"https?://\S+/duyet/\d+/[A-Za-z0-9_.-]+", part.get_payload(decode=True).decode("utf-8", "replace"))
            if found:
                print(found.group())
                sys.exit()
PY
)
if [ -n "$link" ]; then
  echo "Một liên kết duyệt (mở được khi daemon đang chạy: .venv/bin/python run_pipeline.py --config config/demo.toml):"
  echo "  $link"
fi
echo "Xem một mục: .venv/bin/bientap --config config/demo.toml show <id>"
