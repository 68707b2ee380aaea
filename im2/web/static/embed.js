/* IM2's embed script (docs/embed.md). On the brand's page:
     <script src="https://<im2 host>/static/embed.js" data-campaign="<slug>" data-activity="<id>" async></script>
   puts the activity in an iframe right after the tag and sizes the iframe to its content.
   Optional: data-lang="en" (the widget's language), data-height="480" (the height before the
   first message), data-title (the iframe's title, for screen readers).
   Only messages from the IM2 host, from this script's own frame, of the expected shape move it. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var d = script.dataset;
  if (!d.campaign || !/^\d+$/.test(d.activity || "")) return;
  var host = new URL(script.src).origin;
  var id = "im2-" + Math.random().toString(36).slice(2, 12);
  var params = "?origin=" + encodeURIComponent(window.location.origin) + "&frame=" + id;
  if (d.lang) params += "&lang=" + encodeURIComponent(d.lang);

  var frame = document.createElement("iframe");
  frame.src = host + "/e/" + encodeURIComponent(d.campaign) + "/" + d.activity + params;
  frame.title = d.title || "IM2";
  frame.setAttribute("scrolling", "no");
  frame.style.cssText = "display:block;width:100%;border:0;overflow:hidden;height:" +
    (/^\d+$/.test(d.height || "") ? d.height : "420") + "px";
  frame.setAttribute("data-im2-frame", id);
  script.parentNode.insertBefore(frame, script.nextSibling);

  // The widget's identity, one per brand workspace, kept in this page's own storage: a
  // framed page often gets no storage or cookies of its own (third-party), this page does.
  var key = "im2:tokens:" + host;
  function tokens() {
    try { return JSON.parse(window.localStorage.getItem(key) || "{}") || {}; } catch (e) { return {}; }
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== host || event.source !== frame.contentWindow) return;
    var m = event.data;
    if (!m || typeof m !== "object" || m.frame !== id) return;
    if (m.type === "im2:height") {
      var h = Number(m.height);
      if (isFinite(h) && h >= 40 && h <= 20000) frame.style.height = Math.ceil(h) + "px";
    } else if (m.type === "im2:hello" && /^\d+$/.test(m.workspace)) {
      frame.contentWindow.postMessage(
        { type: "im2:token", frame: id, token: tokens()[m.workspace] || null }, host);
    } else if (m.type === "im2:token" && /^\d+$/.test(m.workspace) &&
               typeof m.token === "string" && m.token.length < 300) {
      var all = tokens();
      all[m.workspace] = m.token;
      try { window.localStorage.setItem(key, JSON.stringify(all)); } catch (e) { /* private mode */ }
    }
  });
})();
