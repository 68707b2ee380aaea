/* What the framed page's renderers share (docs/embed.md): the page's words (#embed-texts),
   fields with their error slots, each refusal next to its field in the page's language, the
   brand's consent box on a first action (with the hash of the text it shows; a text replaced
   meanwhile is shown again), sending through the widget's token (embed-frame.js's `call`), and
   the height told to the framing page after every render. Exposed as `IM2Frame.kit` for the
   format renderers (embed-formats.js, embed-more.js), loaded before them. */
(function () {
  "use strict";
  var F = window.IM2Frame;
  var holder = document.getElementById("embed-texts");
  if (!F || !holder) return;
  var T = JSON.parse(holder.textContent);
  var d = F.data;
  var el = F.el;
  var box = document.getElementById("embed-box");

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values[name] !== undefined ? String(values[name]) : all;
    });
  }

  function done() {
    // The ResizeObserver follows most changes; a render also says so at once.
    F.postHeight();
  }

  function errorSlot(field) {
    var p = el("p", "field-error");
    p.setAttribute("data-error-for", field);
    p.setAttribute("role", "alert");
    p.hidden = true;
    return p;
  }

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (p) {
      p.hidden = true;
      p.textContent = "";
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (i) {
      i.removeAttribute("aria-invalid");
    });
    var top = form.querySelector(".form-alert");
    if (top) top.hidden = true;
  }

  // Each message next to its field (`errors`: field -> message); one about a field the form
  // does not show, or about the form as a whole, at its top; a line there when there are
  // several, as the activity's own page does.
  function showErrors(form, errors) {
    clearErrors(form);
    var top = form.querySelector(".form-alert");
    var loose = [];
    var placed = 0;
    Object.keys(errors).forEach(function (field) {
      var slot = form.querySelector('[data-error-for="' + field + '"]');
      if (!slot) { loose.push(errors[field]); return; }
      slot.textContent = errors[field];
      slot.hidden = false;
      placed += 1;
      var input = slot.parentNode.querySelector("input, textarea, select");
      if (input) input.setAttribute("aria-invalid", "true");
    });
    if (placed > 1) loose.push(fill(T.fix_n, { n: placed }));
    if (top && loose.length) {
      top.textContent = loose.join(" ");
      top.hidden = false;
    }
    var first = form.querySelector("[data-error-for]:not([hidden]), .form-alert:not([hidden])");
    if (first && first.scrollIntoView) first.scrollIntoView({ block: "nearest" });
    done();
  }

  // A refused call: the server's message (in the page's language) by its field. A body the
  // schema refused carries the validator's own words, so the frame says it in its own.
  function refused(form, r, fields) {
    var error = (r.body && r.body.error) || {};
    var field = error.field || "";
    var message = error.message || T.failed;
    if (error.details) message = (fields && fields[field]) || T.invalid;
    if (r.status === 0) message = T.failed;
    var errors = {};
    errors[field === "consent_sha256" ? "consent" : field || "_form"] = message;
    showErrors(form, errors);
  }

  function formAlert() {
    var p = el("p", "alert form-alert");
    p.setAttribute("role", "alert");
    p.hidden = true;
    return p;
  }

  // A labelled field with its error slot: `tag` input or textarea named `name`.
  function field(form, tag, name, label, max, value) {
    var id = "embed-" + name;
    var title = el("label", "", label);
    title.htmlFor = id;
    form.appendChild(title);
    form.appendChild(errorSlot(name));
    var input = el(tag);
    input.id = id;
    input.name = name;
    input.maxLength = max;
    if (name === "nickname") input.autocomplete = "nickname";
    if (tag === "textarea") input.rows = 3;
    input.value = value || "";
    form.appendChild(input);
    return input;
  }

  function button(text, cls, type) {
    var b = el("button", cls || "", text);
    b.type = type || "submit";
    return b;
  }

  function choice(type, name, value, text, checked) {
    var label = el("label", "choice");
    var input = el("input");
    input.type = type;
    input.name = name;
    input.value = String(value);
    if (checked) input.checked = true;
    label.appendChild(input);
    label.appendChild(el("span", "", text));
    return label;
  }

  // The brand's consent box of a visitor's first action (and the hash of the text it shows).
  function consentBox(activity) {
    var wrap = el("div", "consent");
    wrap.setAttribute("data-consent-sha256", activity.consent_sha256 || "");
    wrap.appendChild(el("p", "consent-text", activity.consent_text));
    wrap.appendChild(el("p", "hint", T.storage));
    wrap.appendChild(errorSlot("consent"));
    var label = el("label");
    var input = el("input");
    input.type = "checkbox";
    input.name = "consent";
    input.value = "yes";
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + T.agree));
    wrap.appendChild(label);
    return wrap;
  }

  function consentTicked(form) {
    var input = form.querySelector("input[name=consent]");
    return !!(input && input.checked);
  }

  // Before a first action is sent: the box ticked. Resolves to the `consent` flag to send, or
  // rejects with the errors to show.
  function consentFor(form, activity) {
    if (!activity.needs_consent) return Promise.resolve(false);
    var wrap = consentWrap(form);
    if (!wrap || !wrap.querySelector("input[name=consent]").checked) {
      return Promise.reject({ consent: T.consent_needed });
    }
    return Promise.resolve(true);
  }

  function consentWrap(form) {
    return form.querySelector(".consent") || document.querySelector(".consent");
  }

  // The server refused the box because the brand replaced its text since it was shown: show
  // the current text, unticked, and its hash for the next send.
  function renewConsent(form, activity) {
    return F.reread().then(function (now) {
      var wrap = consentWrap(form);
      if (!now || !now.consent_sha256 || !wrap) return;
      activity.consent_text = now.consent_text;
      activity.consent_sha256 = now.consent_sha256;
      wrap.setAttribute("data-consent-sha256", now.consent_sha256);
      wrap.querySelector(".consent-text").textContent = now.consent_text;
      wrap.querySelector("input[name=consent]").checked = false;
    });
  }

  function view(url) {
    return F.call("GET", url).then(function (r) {
      if (!r.ok) throw r;
      return r.body;
    });
  }

  function broken() {
    box.textContent = "";
    box.appendChild(el("p", "alert", T.failed));
    var p = el("p");
    var a = el("a", "button primary block", T.full_page);
    a.href = d.pageUrl;
    a.target = "_blank";
    a.rel = "noopener";
    p.appendChild(a);
    box.appendChild(p);
    done();
  }

  // Send `body` (with the consent flag) after the checks; `ok(r)` on success, the refusal by
  // field otherwise. `local` are the form's own errors found before sending.
  function send(form, activity, local, method, url, body, ok, fields) {
    var consent = consentFor(form, activity);
    return consent.then(
      function (flag) {
        if (Object.keys(local).length) { showErrors(form, local); return; }
        var sha = flag ? consentWrap(form).getAttribute("data-consent-sha256") : "";
        var multipart = typeof FormData !== "undefined" && body instanceof FormData;
        if (flag && multipart) {
          // A multipart body (an upload) carries no hash: the text is read again and compared
          // just before it is sent instead.
          body.set("consent", "true");
          return F.reread().then(function (now) {
            if (now && now.consent_sha256 && sha && now.consent_sha256 !== sha) {
              return renewConsent(form, activity).then(function () {
                showErrors(form, { consent: T.consent_changed });
                return { refused: { field: "consent" } };
              });
            }
            return post();
          });
        }
        if (flag) {
          body.consent = true;
          // The hash of the text the box shows: the server refuses a text replaced meanwhile.
          if (sha) body.consent_sha256 = sha;
        }
        return post();
      },
      function (errors) {
        var all = {};
        Object.keys(local).forEach(function (k) { all[k] = local[k]; });
        Object.keys(errors).forEach(function (k) { all[k] = errors[k]; });
        showErrors(form, all);
      }
    );
    function post() {
      var buttons = form.querySelectorAll("button");
      Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
      F.settle();
      return F.call(method, url, body)
        .catch(function () { return { ok: false, status: 0, body: {} }; })
        .then(function (r) {
          Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
          if (!r.ok) {
            var error = (r.body && r.body.error) || {};
            if (error.field === "consent_sha256") {
              return renewConsent(form, activity).then(function () {
                showErrors(form, { consent: T.consent_changed });
                return { refused: error };
              });
            }
            refused(form, r, fields);
            return { refused: error };
          }
          activity.needs_consent = false;
          return ok(r);
        });
    }
  }

  function notice(text, kind) {
    var p = el("p", kind || "notice", text);
    p.setAttribute("role", "status");
    return p;
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }
  // A time as the visitor's clock shows it, MM-DD HH:MM.
  function when(iso) {
    var t = new Date(iso);
    if (isNaN(t.getTime())) return "";
    return two(t.getMonth() + 1) + "-" + two(t.getDate()) + " " + two(t.getHours()) + ":" + two(t.getMinutes());
  }

  // A link to copy: the address in a read-only box, and a button that copies it.
  function copyBox(url, label) {
    var wrap = el("div", "copy-box");
    var input = el("input");
    input.readOnly = true;
    input.value = url;
    input.setAttribute("aria-label", label);
    wrap.appendChild(input);
    var b = button(T.copy, "", "button");
    b.addEventListener("click", function () {
      input.select();
      var copied = function () { b.textContent = T.copied; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(url).then(copied, function () {
          try { document.execCommand("copy"); copied(); } catch (e) { /* selected: the visitor copies */ }
        });
      } else {
        try { document.execCommand("copy"); copied(); } catch (e) { /* selected */ }
      }
    });
    wrap.appendChild(b);
    return wrap;
  }

  // A form of one action (a button, and the consent box on a first action) sent to `url`.
  function actionForm(activity, label, url, ok) {
    var form = el("form", "embed-action");
    form.noValidate = true;
    form.appendChild(formAlert());
    if (activity.needs_consent) form.appendChild(consentBox(activity));
    form.appendChild(button(label, "primary block"));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(form, activity, {}, "POST", url, {}, ok);
    });
    return form;
  }

  function heading(text, level) { return el(level || "h2", "embed-h", text); }

  F.kit = {
    T: T, box: box, fill: fill, done: done, errorSlot: errorSlot, showErrors: showErrors,
    refused: refused, formAlert: formAlert, field: field, button: button, choice: choice,
    consentBox: consentBox, consentTicked: consentTicked, view: view, broken: broken,
    send: send, notice: notice, when: when, copyBox: copyBox, actionForm: actionForm,
    heading: heading
  };
})();
