@echo off
rem OpenClaw Gateway (profile: work, v2026.9.6): written by `openclaw gateway install`; rerun it instead of editing.
set "OPENCLAW_SERVICE_MARKER=openclaw"
set "OPENCLAW_SERVICE_KIND=gateway"
set "OPENCLAW_SERVICE_VERSION=2026.9.6"
set "OPENCLAW_PROFILE=work"
set "OPENCLAW_STATE_DIR=C:\Users\me\100%% & co\.openclaw-work"
set "OPENCLAW_CONFIG_PATH=C:\Users\me\100%% & co\.openclaw-work\openclaw.json"
C:\Users\me\AppData\Local\OpenClaw\openclaw.exe gateway --port 19123
