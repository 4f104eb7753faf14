@echo off
rem OpenClaw Gateway (v2026.9.6): written by `openclaw gateway install`; rerun it instead of editing.
set "OPENCLAW_SERVICE_MARKER=openclaw"
set "OPENCLAW_SERVICE_KIND=gateway"
set "OPENCLAW_SERVICE_VERSION=2026.9.6"
set "OPENCLAW_STATE_DIR=C:\Users\me\.openclaw"
set "OPENCLAW_CONFIG_PATH=C:\Users\me\.openclaw\openclaw.json"
"C:\Program Files\OpenClaw\openclaw.exe" gateway --port 18789
