#!/usr/bin/env bash
# Install Debian's `rclone`: the S3 API test copies a directory to and from the cluster with it
# (tests/integration/test_s3_tools.py, an S3 remote with provider Other at <endpoint>/s3).
exec "$(dirname "$0")/install-apt-tool.sh" rclone "the rclone test"
