// The chat page: mounts the rasa-webchat widget (served by this server, never from a CDN) for one school and role,
// wires the "Worried about something?" button to the report form, and fills in what the widget leaves out for
// keyboard and screen-reader users (labels, a live region, quick replies that are real buttons).
(function () {
  "use strict";

  var REPORT_PAYLOAD = "/report_concern";
  var CONTEXT_KEY = "policybot_chat_context";
  var WIDGET_KEY = "chat_session"; // rasa-webchat's own storage key (conversation token + transcript)

  var root = document.getElementById("chat");
  var worried = document.getElementById("worried-button");
  if (!root || !window.WebChat || typeof window.WebChat.default !== "function") {
    if (root) {
      root.insertAdjacentHTML("beforeend", '<p class="notice">Sorry, the chat could not start. ' +
        "Please ask a teacher or the school office instead.</p>");
    }
    return;
  }
  var school = root.dataset.school;
  var role = root.dataset.role;

  // A conversation belongs to one school and role. The token and transcript live in sessionStorage (gone when
  // the tab closes, so the next person at a shared computer never sees them); coming here from another school's
  // or role's page in the same tab starts afresh rather than showing that conversation.
  try {
    var context = school + "|" + role;
    if (window.sessionStorage.getItem(CONTEXT_KEY) !== context) {
      window.sessionStorage.removeItem(WIDGET_KEY);
      window.sessionStorage.setItem(CONTEXT_KEY, context);
    }
  } catch (error) {
    // Storage blocked: the widget still works, the conversation just does not survive a reload.
  }

  var widget = null;
  var pendingReport = false;

  function startReport() {
    if (widget && typeof widget.sendMessage === "function") {
      widget.sendMessage(REPORT_PAYLOAD);
      pendingReport = false;
    } else {
      pendingReport = true; // sent as soon as the widget is ready
    }
    var input = root.querySelector(".rw-new-message");
    if (input) {
      input.focus();
    }
  }

  worried.addEventListener("click", startReport);

  window.WebChat.default({
    // The query names the page's school and role; the server signs the conversation for exactly those.
    socketUrl: window.location.origin + "/?school=" + encodeURIComponent(school) +
      "&role=" + encodeURIComponent(role),
    socketPath: "/socket.io/",
    customData: { school: school, role: role },
    initPayload: "/greet",
    embedded: true,
    withRules: false,
    hideWhenNotConnected: false,
    showFullScreenButton: false,
    title: root.dataset.title,
    inputTextFieldHint: root.dataset.inputHint,
    connectingText: "Connecting…",
    params: { storage: "session" },
    mainColor: "#0b4f8a",
    userBackgroundColor: "#0b4f8a",
    userTextColor: "#ffffff",
    assistTextColor: "#111111",
    assistBackgoundColor: "#eef2f6", // sic: the widget's prop name
    customMessageDelay: function (message) {
      return Math.min(1200, 300 + message.length * 5);
    },
    innerRef: function (instance) {
      widget = instance;
      if (widget && pendingReport) {
        window.setTimeout(startReport, 0);
      }
    },
    onSocketEvent: {
      message_refused: function (event) {
        root.dataset.lastRefusal = (event && event.reason) || "refused";
      }
    }
  }, root);

  // What the widget renders is made accessible as it appears.
  function label(element, text) {
    if (element && !element.hasAttribute("aria-label")) {
      element.setAttribute("aria-label", text);
    }
  }

  function quickReplyKey(event) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      event.currentTarget.click();
    }
  }

  function enhance() {
    var log = root.querySelector(".rw-messages-container");
    if (log && !log.hasAttribute("role")) {
      log.setAttribute("role", "log");
      log.setAttribute("aria-live", "polite");
      log.setAttribute("aria-label", "Conversation");
      log.setAttribute("tabindex", "0"); // scrollable by keyboard
    }
    label(root.querySelector(".rw-new-message"), "Your message");
    label(root.querySelector(".rw-send"), "Send");
    var replies = root.querySelectorAll(".rw-reply:not([role])");
    for (var i = 0; i < replies.length; i += 1) {
      replies[i].setAttribute("role", "button");
      replies[i].setAttribute("tabindex", "0");
      replies[i].addEventListener("keydown", quickReplyKey);
    }
  }

  new MutationObserver(enhance).observe(root, { childList: true, subtree: true });
  enhance();

  // In a school website's frame (embed.js), Escape closes the chat there too: key presses inside a frame never
  // reach the page around it, so the frame says so. The message carries nothing but the request.
  if (window.parent !== window && document.body.classList.contains("embedded")) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        window.parent.postMessage("policybot-chat:close", "*");
      }
    });
  }
})();
