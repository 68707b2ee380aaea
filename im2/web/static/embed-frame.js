/* The framed activity page (/e/<slug>/<id>, docs/embed.md): keeps the widget's token in this
   frame's storage, reads and votes through the public JSON API with it (no cookies: browsers
   block or partition them in frames), and tells the framing page its height. */
(function () {
  "use strict";
  var root = document.getElementById("im2-widget");
  if (!root) return;
  var d = root.dataset;
  var key = "im2:token:" + d.workspace;

  function storage() {
    // The frame's own localStorage where the browser gives it one (partitioned per top
    // site), else its sessionStorage; many browsers deny both to a third-party frame.
    var kinds = ["localStorage", "sessionStorage"];
    for (var i = 0; i < kinds.length; i++) {
      try {
        var s = window[kinds[i]];
        s.setItem(key + ":probe", "1");
        s.removeItem(key + ":probe");
        return s;
      } catch (e) { /* denied: try the next */ }
    }
    return null;
  }
  var store = storage();
  var own = store && store.getItem(key);
  var framed = !!d.parentOrigin && window.parent !== window;
  var token = null;
  var waiting = [];

  function keep(value) {
    token = value;
    if (store) store.setItem(key, value);
    // The embed script keeps it in the brand page's own (first-party) storage too, which
    // outlives this frame where the browser gives the frame no storage of its own.
    if (framed) {
      window.parent.postMessage(
        { type: "im2:token", frame: d.frame, workspace: d.workspace, token: value }, d.parentOrigin);
    }
  }

  function settle(value) {
    if (token !== null) return;
    keep(value);
    var run = waiting;
    waiting = [];
    run.forEach(function (fn) { fn(); });
  }

  function withToken(fn) {
    if (token !== null) fn(); else waiting.push(fn);
  }

  // The identity this visitor had: the embed script's (brand page storage), else this
  // frame's storage, else the new one the page came with.
  if (framed) {
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || event.origin !== d.parentOrigin) return;
      var m = event.data;
      if (!m || typeof m !== "object" || m.type !== "im2:token" || m.frame !== d.frame) return;
      settle(typeof m.token === "string" && m.token ? m.token : own || d.token);
    });
    window.parent.postMessage({ type: "im2:hello", frame: d.frame, workspace: d.workspace }, d.parentOrigin);
    // A plain iframe has no embed script to answer.
    setTimeout(function () { settle(own || d.token); }, 1000);
  } else {
    settle(own || d.token);
  }

  var lastHeight = 0;
  function postHeight() {
    if (!d.parentOrigin || window.parent === window) return;
    // The widget's own box (the document is at least as tall as the frame, so it never
    // tells how much less the frame could be).
    var h = Math.ceil(root.getBoundingClientRect().bottom + window.scrollY);
    if (h === lastHeight) return;
    lastHeight = h;
    window.parent.postMessage({ type: "im2:height", frame: d.frame, height: h }, d.parentOrigin);
  }
  if (window.ResizeObserver) new ResizeObserver(postHeight).observe(root);
  window.addEventListener("load", postHeight);

  function call(method, url, body) {
    var headers = { "X-IM2-Token": token, "Accept-Language": d.locale, "Accept": "application/json" };
    // A form with a file (an upload) goes as multipart, its boundary set by the browser.
    var multipart = typeof FormData !== "undefined" && body instanceof FormData;
    if (body && !multipart) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: method, headers: headers, credentials: "omit",
      body: body ? (multipart ? body : JSON.stringify(body)) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        return { ok: r.ok, status: r.status, body: j };
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function showResults(poll, notice) {
    var box = document.getElementById("embed-box");
    box.textContent = "";
    if (notice) box.appendChild(el("p", "notice", notice));
    if (!poll.results) {
      if (poll.voted) box.appendChild(el("p", "muted", d.tLater));
      return;
    }
    box.appendChild(el("h2", "", d.tResults));
    var wrap = el("div", "results");
    poll.results.options.forEach(function (o) {
      var row = el("div", "row");
      row.setAttribute("data-option", o.id);
      var label = el("div", "label");
      label.appendChild(el("span", poll.my_choices.indexOf(o.id) >= 0 ? "mine" : "", o.label));
      var pct = (o.share * 100).toFixed(1) + "%";
      var figures = el("span", "");
      figures.appendChild(el("span", "votes", String(o.votes)));
      figures.appendChild(document.createTextNode(" · "));
      figures.appendChild(el("span", "share", pct));
      label.appendChild(figures);
      row.appendChild(label);
      var bar = el("div", "bar");
      var fill = el("div", "bar-fill");
      fill.style.width = pct;
      bar.appendChild(fill);
      row.appendChild(bar);
      wrap.appendChild(row);
    });
    var meta = el("p", "meta", d.tVoters + (d.locale === "zh-CN" ? "：" : ": "));
    var total = el("strong", "", String(poll.results.voters));
    total.setAttribute("data-total", "");
    meta.appendChild(total);
    wrap.appendChild(meta);
    box.appendChild(wrap);
    if (d.liveUrl) {
      // The results move live, by the page's own mechanism (live.js, which binds
      // [data-live-results] boxes when content is swapped in). The stream is the big
      // screen's: it needs no identity, and this visitor may see the results already.
      wrap.setAttribute("data-live-results", d.liveUrl);
      document.dispatchEvent(new Event("htmx:afterSwap"));
    }
  }

  function showError(text) {
    var p = document.getElementById("embed-error");
    if (!p) return;
    p.textContent = text;
    p.hidden = false;
  }

  var form = document.getElementById("embed-vote");

  // This visitor's own view (their token, not the fresh one the page was made with).
  function read(retry) {
    call("GET", d.readUrl).then(function (r) {
      if ((r.status === 401 || r.status === 403) && retry && token !== d.token) {
        // A token this brand's server does not accept (another brand's, an old secret):
        // start again with the page's new one.
        keep(d.token);
        read(false);
        return;
      }
      if (r.ok && r.body.poll) shown(r.body);
      else if (r.ok && d.viewUrl) rendered(r.body);
    });
  }

  // The format renderers (embed-formats.js, embed-rewards.js, embed-social.js) register here; the activity read
  // with this visitor's token is handed to the one of its kind once both are there.
  var renderers = {};
  var pending = null;
  function rendered(activity) {
    var render = renderers[d.kind];
    if (render) render(activity); else pending = activity;
  }
  window.IM2Frame = {
    data: d,
    call: call,
    el: el,
    postHeight: postHeight,
    settle: function () { settle(own || d.token); },
    reread: function () {
      return call("GET", d.readUrl).then(function (r) { return r.ok ? r.body : null; });
    },
    register: function (kind, render) {
      renderers[kind] = render;
      if (pending && kind === d.kind) { var a = pending; pending = null; render(a); }
    }
  };
  withToken(function () { read(true); });

  function shown(body) {
    var poll = body.poll;
    if (!poll.can_vote) showResults(poll);
    else if (!body.needs_consent) {
      var consent = document.getElementById("embed-consent");
      if (consent) consent.hidden = true;
    }
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = Array.prototype.map.call(
        form.querySelectorAll("input[name=option]:checked"), function (i) { return Number(i.value); });
      if (!chosen.length) { showError(d.tChoose); return; }
      var consent = form.querySelector("input[name=consent]");
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      settle(own || d.token);  // a tap before the embed script answered
      var box = document.getElementById("embed-consent");
      var body = { options: chosen, consent: !!(consent && consent.checked) };
      // The hash of the text the box shows: a text the brand replaced meanwhile is refused.
      if (body.consent && box && box.dataset.consentSha256) body.consent_sha256 = box.dataset.consentSha256;
      call("POST", form.dataset.url, body)
        .then(function (r) {
          if (!r.ok && r.body.error && r.body.error.field === "consent_sha256" && box) {
            // Show the brand's new text, unticked, with the reason.
            return call("GET", d.readUrl).then(function (again) {
              if (again.ok) {
                box.querySelector(".consent-text").textContent = again.body.consent_text;
                box.dataset.consentSha256 = again.body.consent_sha256 || "";
              }
              consent.checked = false;
              button.disabled = false;
              showError(r.body.error.message);
            });
          }
          if (r.ok) {
            return call("GET", d.readUrl).then(function (again) {
              showResults(again.ok ? again.body.poll : { voted: true, results: r.body.results, my_choices: chosen }, d.tThanks);
            });
          }
          button.disabled = false;
          showError((r.body.error && r.body.error.message) || d.tFailed);
        })
        .catch(function () { button.disabled = false; showError(d.tFailed); });
    });
  }
})();
