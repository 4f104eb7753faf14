// OpenClaw Control UI (placeholder; the real UI replaces this file).
document.getElementById("app").textContent = "OpenClaw Control";
