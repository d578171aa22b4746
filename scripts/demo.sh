#!/usr/bin/env bash
# The embedded run: a Maildir inbox, SQLite, a local outbox; no server to install.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export BIENTAP_DATA_DIR=${BIENTAP_DATA_DIR:-var}
export BIENTAP_DATABASE_URL=${BIENTAP_DATABASE_URL:-sqlite:///$BIENTAP_DATA_DIR/bientap.db}
echo "Thư mẫu vào hộp thư $BIENTAP_DATA_DIR/demo/inbox:"
.venv/bin/python -m pipeline.samples "$BIENTAP_DATA_DIR/demo/inbox" bbt@demo.bientap.vn
.venv/bin/python run_pipeline.py --config config/demo.toml --once
echo
echo "Các mục đã lưu (bientap list):"
.venv/bin/bientap --config config/demo.toml list
echo
echo "Thư hồi đáp đã gửi nằm trong $BIENTAP_DATA_DIR/demo/outbox/new/"
echo "Xem một mục: .venv/bin/bientap --config config/demo.toml show <id>"
