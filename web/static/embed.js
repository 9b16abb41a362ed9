// Adds a school's online safety chat to the school's own website. Paste where the page should load it:
//
//   <script src="https://ASSISTANT-HOST/chat/embed.js" data-school="SLUG" defer></script>
//
// Optional: data-role="parent" (a page for parents and carers), data-label="..." (the button's words).
// The chat opens in a frame served by the assistant, so nothing on the school's website (analytics, other scripts)
// can read what a child types; the assistant only lets itself be framed by origins in its allowed list
// (config/webchat.yml or POLICYBOT_WEB_ALLOWED_ORIGINS).
(function () {
  "use strict";

  var script = document.currentScript;
  var school = script && script.getAttribute("data-school");
  if (!school || !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(school)) {
    if (window.console) {
      window.console.error('online safety chat: add data-school="<school slug>" to the embed script tag');
    }
    return;
  }
  var base = new URL(script.src, window.location.href).origin;
  var role = script.getAttribute("data-role") === "parent" ? "parent" : "pupil";
  var src = base + "/chat/" + school + "?embed=1" + (role === "parent" ? "&role=parent" : "");
  var panelId = "online-safety-chat-" + school;

  var button = document.createElement("button");
  button.type = "button";
  button.textContent = script.getAttribute("data-label") || "Ask about staying safe online";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", panelId);
  setStyle(button, {
    position: "fixed", right: "1rem", bottom: "1rem", zIndex: "2147483000", font: "600 1rem/1.2 system-ui, sans-serif",
    padding: "0.75rem 1.1rem", minHeight: "44px", border: "2px solid #ffffff", borderRadius: "999px",
    background: "#0b4f8a", color: "#ffffff", boxShadow: "0 2px 8px rgba(0,0,0,0.35)", cursor: "pointer"
  });

  var panel = document.createElement("div");
  panel.id = panelId;
  panel.hidden = true;
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", "Online safety chat");
  setStyle(panel, {
    position: "fixed", right: "1rem", bottom: "4.75rem", zIndex: "2147483000", width: "min(26rem, calc(100vw - 2rem))",
    height: "min(40rem, calc(100vh - 6rem))", background: "#ffffff", border: "1px solid #5b6b7b",
    borderRadius: "0.75rem", boxShadow: "0 4px 18px rgba(0,0,0,0.35)", overflow: "hidden",
    flexDirection: "column"
  });

  var close = document.createElement("button");
  close.type = "button";
  close.textContent = "Close chat";
  setStyle(close, {
    alignSelf: "flex-end", margin: "0.25rem", padding: "0.35rem 0.75rem", minHeight: "44px",
    font: "600 0.95rem/1 system-ui, sans-serif", border: "2px solid #0b4f8a", borderRadius: "0.4rem",
    background: "#ffffff", color: "#0b4f8a", cursor: "pointer"
  });

  var frame = null; // made on first open: no connection for visitors who never open the chat

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = "Online safety chat";
      frame.src = src;
      frame.setAttribute("referrerpolicy", "no-referrer");
      setStyle(frame, { flex: "1 1 auto", width: "100%", border: "0" });
      panel.appendChild(frame);
    }
    panel.hidden = false;
    panel.style.display = "flex";
    button.setAttribute("aria-expanded", "true");
    frame.focus();
  }

  function hide() {
    panel.hidden = true;
    panel.style.display = "none";
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }

  button.addEventListener("click", function () {
    if (panel.hidden) { open(); } else { hide(); }
  });
  close.addEventListener("click", hide);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { hide(); }
  });
  window.addEventListener("message", function (event) {
    // Escape pressed inside the chat's frame (web/static/chat.js); only the chat's own origin is listened to.
    if (event.origin === base && event.data === "policybot-chat:close" && !panel.hidden) { hide(); }
  });

  function setStyle(element, styles) {
    for (var name in styles) {
      if (Object.prototype.hasOwnProperty.call(styles, name)) { element.style[name] = styles[name]; }
    }
  }

  function mount() {
    panel.appendChild(close);
    panel.style.display = "none";
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }

  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
