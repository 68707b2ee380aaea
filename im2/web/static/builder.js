/* The visual question builder of surveys and quizzes (console, no framework).
 *
 * The page holds a <form data-builder="survey|quiz"> with an empty list (#builder-list), a
 * preview pane (#builder-preview) and a JSON blob (#builder-data: the starting questions, the
 * server's errors by field name, the page's words already translated). The builder keeps the
 * questions as plain objects, draws them as ordinary named inputs (q-0-text, q-0-opt-1-label,
 * ... numbered by their place on screen) and the server validates what is posted, reporting
 * every problem at once under its field; the page comes back with everything typed.
 *
 * Reorder: drag the handle, or focus it and press the up/down arrow keys, or the ↑ ↓ buttons.
 * Deleting a question asks first in a <dialog>. Skip rules point at questions, not numbers, so
 * they follow a question that moves. CSP: no inline handlers, no eval.
 */
(function () {
  "use strict";
  var form = document.querySelector("form[data-builder]");
  var dataNode = document.getElementById("builder-data");
  if (!form || !dataNode) return;
  var KIND = form.getAttribute("data-builder");
  var data = JSON.parse(dataNode.textContent);
  var T = data.t;
  var list = document.getElementById("builder-list");
  var preview = document.getElementById("builder-preview");
  var live = document.getElementById("builder-status");
  var WITH_OPTIONS = { single: 1, multiple: 1, ranking: 1 };
  var seq = 0;
  function uid() { seq += 1; return "u" + seq; }

  function fmt(s, values) {
    return s.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { add(node, c); });
    return node;
  }
  function add(parent, child) { if (child) parent.appendChild(child); }

  function announce(message) { if (live) { live.textContent = ""; live.textContent = message; } }

  /* --- the model ----------------------------------------------------------------------- */
  var questions = [];

  function mode() {
    var select = form.querySelector("[name=mode]");
    return select ? select.value : "quiz";
  }

  function fromState(state, errors) {
    errors = errors || {};
    var made = (state.questions || []).map(function (q, i) {
      var options = (q.options || []).map(function (o, j) {
        var label = typeof o === "string" ? o : o.label;
        return {
          uid: uid(), label: label || "", skip: typeof o === "string" ? "" : (o.skip || ""),
          error: errors["q-" + i + "-opt-" + j + "-label"] || errors["q-" + i + "-opt-" + j + "-skip"] || ""
        };
      });
      var made = {
        uid: uid(), kind: q.kind || "single", text: q.text || "", required: !!q.required,
        points: q.points === undefined ? "10" : String(q.points), options: options,
        correct: q.correct === null || q.correct === undefined ? null : (options[q.correct] || {}).uid || null,
        errors: {
          text: errors["q-" + i + "-text"] || "",
          kind: errors["q-" + i + "-kind"] || "",
          points: errors["q-" + i + "-points"] || "",
          options: errors["q-" + i + "-options"] || errors["q-" + i + "-correct"] || ""
        }
      };
      return made;
    });
    // skip rules: question numbers → the questions themselves
    made.forEach(function (q) {
      q.options.forEach(function (o) {
        if (o.skip && o.skip !== "end") {
          var target = made[parseInt(o.skip, 10) - 1];
          o.skip = target ? target.uid : "";
        }
      });
    });
    return made;
  }

  function blankQuestion() {
    var q = { uid: uid(), kind: "single", text: "", required: false, points: defaultPoints(),
      correct: null, options: [], errors: {} };
    if (KIND === "quiz" || WITH_OPTIONS[q.kind]) q.options = [blankOption(), blankOption()];
    return q;
  }
  function blankOption() { return { uid: uid(), label: "", skip: "", error: "" }; }
  function defaultPoints() {
    var input = form.querySelector("[name=points]");
    return input && input.value ? input.value : "10";
  }
  function hasOptions(q) { return KIND === "quiz" || !!WITH_OPTIONS[q.kind]; }
  function find(id) {
    for (var i = 0; i < questions.length; i += 1) if (questions[i].uid === id) return i;
    return -1;
  }

  /* --- drawing the editor -------------------------------------------------------------- */
  function errorNode(message, id) {
    return message ? el("p", { class: "field-error", id: id, role: "alert", text: message }) : null;
  }

  function drawQuestion(q, i) {
    var n = i + 1;
    var prefix = "q-" + i;
    var li = el("li", { class: "bq", "data-uid": q.uid });
    var handle = el("button", {
      type: "button", class: "bq-handle", "data-act": "handle",
      "aria-label": fmt(T.move_hint, { n: n }), title: T.move_title, text: "⠿"
    });
    var head = el("div", { class: "bq-head" }, [
      handle,
      el("strong", { class: "bq-num", text: fmt(T.question_n, { n: n }) }),
      el("span", { class: "bq-tools" }, [
        el("button", { type: "button", "data-act": "up", "aria-label": fmt(T.move_up, { n: n }), disabled: i === 0, text: "↑" }),
        el("button", { type: "button", "data-act": "down", "aria-label": fmt(T.move_down, { n: n }), disabled: i === questions.length - 1, text: "↓" }),
        el("button", { type: "button", class: "danger", "data-act": "delete", text: T.delete })
      ])
    ]);
    add(li, head);
    var body = el("div", { class: "bq-body" });
    if (KIND === "survey") {
      var kind = el("select", { id: prefix + "-kind", name: prefix + "-kind", "data-field": "kind" });
      data.kinds.forEach(function (k) {
        kind.appendChild(el("option", { value: k[0], selected: k[0] === q.kind, text: k[1] }));
      });
      add(body, el("label", { for: prefix + "-kind", text: T.kind }));
      add(body, kind);
    }
    add(body, el("label", { for: prefix + "-text", text: T.question + " *" }));
    add(body, el("input", {
      id: prefix + "-text", name: prefix + "-text", value: q.text, maxlength: "300",
      "data-field": "text", placeholder: T.question_placeholder,
      "aria-invalid": q.errors.text ? "true" : null,
      "aria-describedby": q.errors.text ? prefix + "-text-error" : null
    }));
    add(body, errorNode(q.errors.text, prefix + "-text-error"));
    if (KIND === "survey") {
      add(body, el("label", { class: "check" }, [
        el("input", { type: "checkbox", name: prefix + "-required", "data-field": "required", checked: q.required }),
        document.createTextNode(" " + T.required)
      ]));
    } else {
      add(body, el("label", { for: prefix + "-points", text: T.points }));
      add(body, el("input", {
        id: prefix + "-points", name: prefix + "-points", type: "number", min: "1", max: "1000",
        inputmode: "numeric", value: q.points, "data-field": "points", class: "short",
        "aria-invalid": q.errors.points ? "true" : null
      }));
      add(body, errorNode(q.errors.points, prefix + "-points-error"));
    }
    if (hasOptions(q)) add(body, drawOptions(q, i));
    add(li, body);
    return li;
  }

  function drawOptions(q, i) {
    var prefix = "q-" + i;
    var quiz = KIND === "quiz" && mode() === "quiz";
    var box = el("fieldset", { class: "bq-options" }, [
      el("legend", { text: quiz ? T.options_quiz : T.options })
    ]);
    add(box, errorNode(q.errors.options, prefix + "-options-error"));
    q.options.forEach(function (o, j) {
      var name = prefix + "-opt-" + j;
      var row = el("div", { class: "bo", "data-opt": o.uid });
      if (quiz) {
        row.appendChild(el("label", { class: "bo-correct", title: T.correct }, [
          el("input", { type: "radio", name: prefix + "-correct", value: String(j), checked: q.correct === o.uid, "data-field": "correct", "aria-label": fmt(T.correct_n, { n: j + 1 }) }),
          el("span", { class: "bo-correct-text", text: T.correct_short })
        ]));
      }
      row.appendChild(el("input", {
        name: name + "-label", value: o.label, maxlength: "120", "data-field": "label",
        "aria-label": fmt(T.option_n, { n: j + 1 }), placeholder: fmt(T.option_n, { n: j + 1 }),
        "aria-invalid": o.error ? "true" : null
      }));
      if (KIND === "survey" && q.kind === "single") {
        var skip = el("select", { name: name + "-skip", "data-field": "skip", "aria-label": fmt(T.skip_label, { n: j + 1 }) });
        skip.appendChild(el("option", { value: "", text: T.skip_next }));
        questions.forEach(function (target, k) {
          if (k > i + 1) {
            skip.appendChild(el("option", {
              value: String(k + 1), selected: o.skip === target.uid,
              text: fmt(T.skip_to, { n: k + 1 }) + (target.text ? "：" + target.text.slice(0, 16) : "")
            }));
          }
        });
        skip.appendChild(el("option", { value: "end", selected: o.skip === "end", text: T.skip_end }));
        row.appendChild(skip);
      }
      row.appendChild(el("button", {
        type: "button", class: "bo-remove", "data-act": "remove-option",
        "aria-label": fmt(T.remove_option, { n: j + 1 }), text: "×",
        disabled: q.options.length <= 2
      }));
      add(box, row);
      add(box, errorNode(o.error, name + "-error"));
    });
    var max = KIND === "quiz" ? 10 : 20;
    add(box, el("button", {
      type: "button", class: "bo-add", "data-act": "add-option", text: T.add_option,
      disabled: q.options.length >= max
    }));
    return box;
  }

  function draw(focusSelector) {
    // skip rules pointing at a question that no longer comes later are dropped
    questions.forEach(function (q, i) {
      q.options.forEach(function (o) {
        if (o.skip && o.skip !== "end" && find(o.skip) <= i + 1) o.skip = "";
        if (!(KIND === "survey" && q.kind === "single")) o.skip = "";
      });
    });
    list.textContent = "";
    questions.forEach(function (q, i) { list.appendChild(drawQuestion(q, i)); });
    var count = document.getElementById("builder-count");
    if (count) count.textContent = fmt(T.count, { n: questions.length });
    drawPreview();
    if (focusSelector) {
      var target = list.querySelector(focusSelector);
      if (target) target.focus();
    }
  }

  /* --- the phone preview --------------------------------------------------------------- */
  function drawPreview() {
    if (!preview) return;
    preview.textContent = "";
    var title = form.querySelector("[name=title]");
    var description = form.querySelector("[name=description]");
    add(preview, el("h3", { class: "pv-title", text: (title && title.value) || T.untitled }));
    if (description && description.value) add(preview, el("p", { class: "pv-desc", text: description.value }));
    questions.forEach(function (q, i) {
      var card = el("div", { class: "pv-q" });
      add(card, el("p", { class: "pv-text" }, [
        el("span", { class: "pv-n", text: (i + 1) + ". " }),
        document.createTextNode(q.text || T.question_placeholder),
        q.required ? el("span", { class: "pv-req", text: " *" }) : null
      ]));
      if (KIND === "quiz") {
        q.options.forEach(function (o, j) {
          var right = mode() === "quiz" && q.correct === o.uid;
          add(card, el("span", { class: "pv-choice" + (right ? " pv-right" : ""), text: (o.label || fmt(T.option_n, { n: j + 1 })) + (right ? " ✓" : "") }));
        });
        add(card, el("p", { class: "pv-note", text: fmt(T.points_n, { n: q.points || "0" }) }));
      } else if (WITH_OPTIONS[q.kind]) {
        q.options.forEach(function (o, j) {
          var mark = q.kind === "single" ? "○ " : q.kind === "multiple" ? "□ " : (j + 1) + ". ";
          var line = el("span", { class: "pv-choice", text: mark + (o.label || fmt(T.option_n, { n: j + 1 })) });
          if (o.skip) {
            var to = o.skip === "end" ? T.skip_end : fmt(T.skip_to, { n: find(o.skip) + 1 });
            line.appendChild(el("small", { class: "pv-skip", text: " → " + to }));
          }
          add(card, line);
        });
      } else if (q.kind === "rating" || q.kind === "nps") {
        var scale = el("div", { class: "pv-scale" });
        var low = q.kind === "rating" ? 1 : 0, high = q.kind === "rating" ? 5 : 10;
        for (var v = low; v <= high; v += 1) scale.appendChild(el("span", { text: q.kind === "rating" ? "☆" : String(v) }));
        add(card, scale);
      } else {
        add(card, el("div", { class: "pv-input", text: T.answer_here }));
      }
      add(preview, card);
    });
    add(preview, el("span", { class: "pv-submit", text: T.preview_submit }));
  }

  /* --- reading what is typed ----------------------------------------------------------- */
  function locate(node) {
    var li = node.closest(".bq");
    if (!li) return null;
    var q = questions[find(li.getAttribute("data-uid"))];
    var optRow = node.closest("[data-opt]");
    var o = null;
    if (optRow && q) q.options.forEach(function (x) { if (x.uid === optRow.getAttribute("data-opt")) o = x; });
    return { li: li, q: q, o: o };
  }

  function clearError(node) {
    node.removeAttribute("aria-invalid");
    var next = node.parentNode.querySelector(".field-error");
    var holder = node.closest(".bo");
    if (holder && holder.nextSibling && holder.nextSibling.classList && holder.nextSibling.classList.contains("field-error")) holder.nextSibling.remove();
    else if (next && next.previousSibling === node) next.remove();
  }

  list.addEventListener("input", function (event) {
    var node = event.target;
    var at = locate(node);
    if (!at || !at.q) return;
    var field = node.getAttribute("data-field");
    if (field === "text") {
      at.q.text = node.value;
      at.q.errors.text = "";
      // the skip menus name the questions they jump to: keep their words in step, in place
      var number = find(at.q.uid) + 1;
      list.querySelectorAll('select[data-field="skip"] option[value="' + number + '"]').forEach(function (option) {
        option.textContent = fmt(T.skip_to, { n: number }) + (at.q.text ? "：" + at.q.text.slice(0, 16) : "");
      });
    }
    else if (field === "points") { at.q.points = node.value; at.q.errors.points = ""; }
    else if (field === "label" && at.o) { at.o.label = node.value; at.o.error = ""; }
    else return;
    clearError(node);
    drawPreview();
  });

  list.addEventListener("change", function (event) {
    var node = event.target;
    var at = locate(node);
    if (!at || !at.q) return;
    var field = node.getAttribute("data-field");
    var i = find(at.q.uid);
    if (field === "kind") {
      at.q.kind = node.value;
      if (WITH_OPTIONS[at.q.kind]) { while (at.q.options.length < 2) at.q.options.push(blankOption()); }
      draw("#q-" + i + "-kind");
    } else if (field === "required") { at.q.required = node.checked; drawPreview(); }
    else if (field === "skip" && at.o) {
      var v = node.value;
      at.o.skip = v === "" || v === "end" ? v : questions[parseInt(v, 10) - 1].uid;
      at.o.error = "";
      drawPreview();
    } else if (field === "correct" && at.o) { at.q.correct = at.o.uid; at.q.errors.options = ""; drawPreview(); }
  });

  /* --- actions: add, delete, move ------------------------------------------------------ */
  function move(i, to, focus) {
    if (to < 0 || to >= questions.length || to === i) return;
    var q = questions.splice(i, 1)[0];
    questions.splice(to, 0, q);
    draw(focus ? '[data-uid="' + q.uid + '"] [data-act="' + focus + '"]' : null);
    announce(fmt(T.moved, { from: i + 1, to: to + 1 }));
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-act]");
    if (!button) return;
    var at = locate(button);
    if (!at || !at.q) return;
    var i = find(at.q.uid);
    var act = button.getAttribute("data-act");
    if (act === "up") move(i, i - 1, i - 1 === 0 ? "down" : "up");
    else if (act === "down") move(i, i + 1, i + 1 === questions.length - 1 ? "up" : "down");
    else if (act === "delete") {
      confirmDialog(fmt(T.delete_q_title, { n: i + 1 }), fmt(T.delete_q_body, { text: at.q.text || T.question_placeholder }), T.delete, function () {
        questions.splice(i, 1);
        if (!questions.length) questions.push(blankQuestion());
        draw('[data-act="add-question"]');
        announce(fmt(T.deleted, { n: i + 1 }));
      });
    } else if (act === "add-option") {
      var o = blankOption();
      at.q.options.push(o);
      at.q.errors.options = "";
      draw('[data-opt="' + o.uid + '"] [data-field="label"]');
    } else if (act === "remove-option" && at.o) {
      var index = at.q.options.indexOf(at.o);
      at.q.options.splice(index, 1);
      if (at.q.correct === at.o.uid) at.q.correct = null;
      draw('[data-uid="' + at.q.uid + '"] [data-act="add-option"]');
    }
  });

  list.addEventListener("keydown", function (event) {
    var handle = event.target.closest('[data-act="handle"]');
    if (!handle) return;
    var i = find(locate(handle).q.uid);
    if (event.key === "ArrowUp") { event.preventDefault(); move(i, i - 1, "handle"); }
    else if (event.key === "ArrowDown") { event.preventDefault(); move(i, i + 1, "handle"); }
  });

  // Drag by the handle (mouse and pen: HTML drag and drop; touch uses ↑ ↓).
  var dragging = null;
  list.addEventListener("pointerdown", function (event) {
    var handle = event.target.closest('[data-act="handle"]');
    if (handle) handle.closest(".bq").setAttribute("draggable", "true");
  });
  list.addEventListener("dragstart", function (event) {
    var li = event.target.closest && event.target.closest(".bq");
    if (!li) return;
    dragging = li.getAttribute("data-uid");
    li.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragging);
  });
  list.addEventListener("dragover", function (event) {
    if (!dragging) return;
    event.preventDefault();
    var over = event.target.closest(".bq");
    list.querySelectorAll(".drop-before, .drop-after").forEach(function (x) { x.classList.remove("drop-before", "drop-after"); });
    if (!over || over.getAttribute("data-uid") === dragging) return;
    var box = over.getBoundingClientRect();
    over.classList.add(event.clientY < box.top + box.height / 2 ? "drop-before" : "drop-after");
  });
  list.addEventListener("drop", function (event) {
    if (!dragging) return;
    event.preventDefault();
    var over = event.target.closest(".bq");
    var from = find(dragging);
    if (over && over.getAttribute("data-uid") !== dragging) {
      var target = find(over.getAttribute("data-uid"));
      var after = over.classList.contains("drop-after");
      var to = target + (after ? 1 : 0);
      if (from < to) to -= 1;
      dragging = null;
      move(from, to, "handle");
    }
  });
  list.addEventListener("dragend", function () {
    dragging = null;
    list.querySelectorAll(".bq").forEach(function (x) { x.removeAttribute("draggable"); x.classList.remove("dragging", "drop-before", "drop-after"); });
  });

  form.querySelectorAll('[data-act="add-question"]').forEach(function (button) {
    button.addEventListener("click", function () {
      var q = blankQuestion();
      questions.push(q);
      draw('[data-uid="' + q.uid + '"] [data-field="text"]');
    });
  });

  ["title", "description", "mode"].forEach(function (name) {
    var input = form.querySelector("[name=" + name + "]");
    if (input) input.addEventListener(name === "mode" ? "change" : "input", function () {
      if (name === "mode") draw(); else drawPreview();
    });
  });

  /* --- the confirmation dialog --------------------------------------------------------- */
  var dialog = document.getElementById("builder-confirm");
  if (dialog) dialog.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dialog-ok], [data-dialog-cancel]");
    if (button) dialog.close(button.hasAttribute("data-dialog-ok") ? "ok" : "cancel");
  });
  function confirmDialog(title, body, okText, onOk) {
    if (!dialog || typeof dialog.showModal !== "function") { onOk(); return; }
    dialog.querySelector("[data-dialog-title]").textContent = title;
    dialog.querySelector("[data-dialog-body]").textContent = body;
    dialog.querySelector("[data-dialog-ok]").textContent = okText;
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", function done() {
      dialog.removeEventListener("close", done);
      if (dialog.returnValue === "ok") onOk();
    });
  }

  /* --- text import and export (power users) -------------------------------------------- */
  var textBox = form.querySelector("textarea[name=questions]");
  var textStatus = document.getElementById("builder-text-status");
  function toText() {
    return questions.map(function (q) {
      var lines;
      if (KIND === "quiz") {
        lines = [q.text].concat(q.options.map(function (o) { return (q.correct === o.uid ? "* " : "") + o.label; }));
      } else {
        lines = [data.kind_words[q.kind] + (q.required ? "*" : "") + ": " + q.text];
        if (WITH_OPTIONS[q.kind]) lines = lines.concat(q.options.map(function (o) {
          if (!o.skip) return o.label;
          return o.label + " -> " + (o.skip === "end" ? "结束" : String(find(o.skip) + 1));
        }));
      }
      return lines.join("\n");
    }).join("\n\n");
  }
  var exportButton = form.querySelector('[data-act="export-text"]');
  if (exportButton && textBox) exportButton.addEventListener("click", function () {
    textBox.value = toText();
    textBox.focus();
    textBox.select();
    if (textStatus) textStatus.textContent = T.exported;
  });
  var importButton = form.querySelector('[data-act="import-text"]');
  if (importButton && textBox) importButton.addEventListener("click", function () {
    var body = new FormData();
    var token = form.querySelector("input[type=hidden][name^=csrf], input[type=hidden][name*=csrf]");
    if (token) body.append(token.name, token.value);
    body.append("questions", textBox.value);
    var modeSelect = form.querySelector("[name=mode]");
    if (modeSelect) body.append("mode", modeSelect.value);
    var points = form.querySelector("[name=points]");
    if (points) body.append("points", points.value);
    fetch(form.getAttribute("data-import"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.json().then(function (json) { return { ok: response.ok, json: json }; }); })
      .then(function (result) {
        if (!result.ok) { textStatus.textContent = result.json.error || T.import_failed; return; }
        questions = fromState(result.json, {});
        if (!questions.length) questions.push(blankQuestion());
        textBox.value = "";
        draw();
        textStatus.textContent = fmt(T.imported, { n: questions.length });
      })
      .catch(function () { textStatus.textContent = T.import_failed; });
  });

  /* --- phone: 编辑 / 预览 tabs ------------------------------------------------------- */
  var tabs = form.querySelectorAll("[data-tab]");
  tabs.forEach(function (tab) {
    tab.addEventListener("click", function () {
      var which = tab.getAttribute("data-tab");
      form.querySelector(".builder").setAttribute("data-show", which);
      tabs.forEach(function (t) { t.setAttribute("aria-selected", t === tab ? "true" : "false"); });
    });
  });

  questions = fromState(data.state, data.errors);
  if (!questions.length) questions.push(blankQuestion());
  form.classList.add("builder-on");
  draw();
})();
