/* The framed page's renderers for the quiz, the survey and the live Q&A (docs/embed.md): each
   reads its format's public JSON view and acts through its public JSON routes with the
   widget's token, through what embed-kit.js shares (consent box, errors by field, height). */
(function () {
  "use strict";
  var F = window.IM2Frame;
  if (!F || !F.kit) return;
  var K = F.kit;
  var T = K.T, d = F.data, el = F.el, box = K.box;
  var fill = K.fill, done = K.done, errorSlot = K.errorSlot, showErrors = K.showErrors;
  var formAlert = K.formAlert, field = K.field, button = K.button, choice = K.choice;
  var consentBox = K.consentBox, view = K.view, broken = K.broken, send = K.send;
  var notice = K.notice, when = K.when;

  // ---- quiz -------------------------------------------------------------------------------

  function quiz(activity) {
    var feedback = null;
    function labels(state) {
      var found = {};
      state.questions.forEach(function (q) {
        q.options.forEach(function (o) { found[o[0]] = o[1]; });
      });
      return found;
    }
    function draw(state) {
      var names = labels(state);
      var prediction = state.mode === "prediction";
      var answered = state.questions.filter(function (q) { return q.my_option_id; });
      var current = state.questions.filter(function (q) { return q.id === state.current_question_id; })[0];
      box.textContent = "";
      if (feedback) box.appendChild(feedback);
      // A closed campaign's reason stands under the title already (the page says it).
      var meta = el("p", "meta", fill(T.answered_of, { done: answered.length, total: state.total }));
      if (!prediction) {
        meta.appendChild(document.createTextNode(" · " + T.your_score));
        var score = el("strong", "", String(state.score));
        score.setAttribute("data-score", "");
        meta.appendChild(score);
      }
      box.appendChild(meta);
      if (current && state.open) {
        var form = el("form", "embed-quiz");
        form.noValidate = true;
        form.appendChild(formAlert());
        var set = el("fieldset", "plain");
        var legend = el("legend");
        legend.appendChild(el("strong", "", current.position + ". " + current.text));
        set.appendChild(legend);
        set.appendChild(errorSlot("option"));
        current.options.forEach(function (o) { set.appendChild(choice("radio", "option", o[0], o[1])); });
        form.appendChild(set);
        if (!answered.length) field(form, "input", "nickname", T.nickname_board, 20);
        if (activity.needs_consent) form.appendChild(consentBox(activity));
        form.appendChild(button(prediction ? T.submit_prediction : T.submit_answer, "primary block"));
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          var picked = form.querySelector("input[name=option]:checked");
          var local = {};
          if (!picked) local.option = T.choose_first;
          var body = { question_id: current.id, option_id: picked ? Number(picked.value) : 0 };
          var typed = form.querySelector("input[name=nickname]");
          if (typed && typed.value.trim()) body.nickname = typed.value.trim();
          send(form, activity, local, "POST", d.viewUrl + "/answers", body, function (r) {
            var got = r.body;
            var label = names[got.option_id] || "";
            if (prediction) feedback = notice(fill(T.predicted, { label: label }));
            else if (got.correct) feedback = notice(fill(T.correct, { n: got.points }));
            else feedback = notice(fill(T.wrong, { label: names[got.correct_option_id] || "" }), "alert");
            return load();
          }, { nickname: fill(T.invalid, {}) });
        });
        box.appendChild(form);
      } else if (answered.length) {
        box.appendChild(notice(prediction ? T.predictions_in : fill(T.finished, { n: state.score })));
      } else if (state.open) {
        box.appendChild(el("p", "closed", T.answers_closed));
      }
      if (answered.length) {
        var list = el("ul", "my-answers");
        answered.forEach(function (q) {
          var line = q.position + ". " + q.text + " — " + (names[q.my_option_id] || "");
          if (q.my_correct === true) line += " ✓ +" + q.my_points;
          else if (q.my_correct === false) {
            line += " ✗" + (q.correct_option_id ? " (" + (names[q.correct_option_id] || "") + ")" : "");
          }
          list.appendChild(el("li", "", line));
        });
        box.appendChild(list);
      }
      var more = el("p", "");
      var link = el("a", "", T.leaderboard);
      link.href = d.pageUrl + "/leaderboard";
      link.target = "_blank";
      link.rel = "noopener";
      more.appendChild(link);
      box.appendChild(more);
      done();
    }
    function load() { return view(d.viewUrl).then(draw, broken); }
    load();
  }

  // ---- survey -----------------------------------------------------------------------------

  // The questions this participant goes through, following the skip rules of the single
  // choices made (im2.activities.formats.survey.logic.route).
  function route(questions, answers) {
    var byPosition = {};
    var first = Infinity;
    questions.forEach(function (q) { byPosition[q.position] = q; first = Math.min(first, q.position); });
    var path = [];
    var position = first;
    while (byPosition[position]) {
      var q = byPosition[position];
      path.push(q);
      position += 1;
      var chosen = answers[q.id];
      if (q.kind === "single" && chosen !== undefined && chosen !== null && chosen !== "") {
        var option = q.options.filter(function (o) { return o.id === chosen; })[0];
        var jump = option ? option.skip_to : null;
        if (jump === 0) break;
        if (jump !== null && jump > q.position) position = jump;
      }
    }
    return path;
  }

  function empty(value) {
    return value === undefined || value === null || value === "" ||
      (Array.isArray(value) && !value.length);
  }

  function questionField(q, saved) {
    var set = el("fieldset", "plain");
    set.id = "q" + q.id;
    var legend = el("legend");
    legend.appendChild(el("strong", "", q.text));
    if (q.required) {
      var star = el("span", "", " *");
      star.setAttribute("aria-label", T.required);
      legend.appendChild(star);
    }
    set.appendChild(legend);
    set.appendChild(errorSlot("q" + q.id));
    if (q.kind === "single" || q.kind === "multiple") {
      if (q.kind === "multiple") set.appendChild(el("p", "hint", T.choose_all));
      q.options.forEach(function (o) {
        var on = q.kind === "single" ? saved === o.id : Array.isArray(saved) && saved.indexOf(o.id) >= 0;
        set.appendChild(choice(q.kind === "single" ? "radio" : "checkbox", "answer", o.id, o.label, on));
      });
    } else if (q.kind === "text") {
      var area = el("textarea");
      area.name = "answer";
      area.rows = 4;
      area.maxLength = 2000;
      area.setAttribute("aria-label", q.text);
      area.value = typeof saved === "string" ? saved : "";
      set.appendChild(area);
    } else if (q.kind === "rating" || q.kind === "nps") {
      set.appendChild(el("p", "hint", q.kind === "rating" ? T.rating_hint : T.nps_hint));
      var scale = el("div", "scale");
      var low = q.kind === "rating" ? 1 : 0;
      var high = q.kind === "rating" ? 5 : 10;
      for (var n = low; n <= high; n++) {
        scale.appendChild(choice("radio", "answer", n, (q.kind === "rating" ? "★" : "") + n, saved === n));
      }
      set.appendChild(scale);
    } else if (q.kind === "ranking") {
      set.appendChild(el("p", "hint", T.ranking_hint));
      q.options.forEach(function (o) {
        var row = el("label", "rank");
        row.appendChild(el("span", "", o.label));
        var select = el("select");
        select.name = "rank_" + o.id;
        select.setAttribute("data-option", o.id);
        select.appendChild(el("option", "", "—")).value = "";
        for (var place = 1; place <= q.options.length; place++) {
          var opt = el("option", "", String(place));
          opt.value = String(place);
          if (Array.isArray(saved) && saved.indexOf(o.id) + 1 === place) opt.selected = true;
          select.appendChild(opt);
        }
        row.appendChild(select);
        set.appendChild(row);
      });
    }
    return set;
  }

  // The answer as the API takes it, or {error} for a ranking with places missing or shared.
  function answerOf(q, form) {
    if (q.kind === "multiple") {
      return Array.prototype.map.call(form.querySelectorAll("input[name=answer]:checked"),
        function (i) { return Number(i.value); });
    }
    if (q.kind === "ranking") {
      var places = {};
      var given = 0;
      Array.prototype.forEach.call(form.querySelectorAll("select[data-option]"), function (s) {
        if (s.value) { places[s.getAttribute("data-option")] = Number(s.value); given += 1; }
      });
      if (!given) return [];
      var ids = Object.keys(places);
      var seen = ids.map(function (id) { return places[id]; }).sort(function (a, b) { return a - b; });
      var whole = given === q.options.length && seen.every(function (p, i) { return p === i + 1; });
      if (!whole) return { error: fill(T.rank_places, { n: q.options.length }) };
      return ids.sort(function (a, b) { return places[a] - places[b]; }).map(Number);
    }
    if (q.kind === "text") return form.querySelector("textarea[name=answer]").value;
    var picked = form.querySelector("input[name=answer]:checked");
    return picked ? Number(picked.value) : "";
  }

  function survey(activity) {
    var answers = {};
    var state = null;
    var at = null;  // the question shown
    function draw() {
      box.textContent = "";
      if (state.submitted) { box.appendChild(notice(T.survey_done)); done(); return null; }
      if (state.closed_reason) { done(); return null; }  // said under the title
      var path = route(state.questions, answers);
      var q = at && path.filter(function (p) { return p.id === at; })[0];
      if (!q) {
        q = path.filter(function (p) { return empty(answers[p.id]); })[0] || path[path.length - 1];
      }
      if (!q) { done(); return null; }
      at = q.id;
      var index = path.indexOf(q);
      var form = el("form", "embed-survey");
      form.noValidate = true;
      form.appendChild(formAlert());
      var meta = fill(T.question_of, { n: q.position, total: state.questions.length });
      if (Object.keys(answers).length) meta += " · " + T.saved;
      form.appendChild(el("p", "meta", meta));
      form.appendChild(questionField(q, answers[q.id]));
      if (activity.needs_consent) form.appendChild(consentBox(activity));
      var actions = el("div", "actions");
      if (index > 0) {
        var back = button(T.previous, "", "button");
        back.addEventListener("click", function () { at = path[index - 1].id; draw(); });
        actions.appendChild(back);
      }
      form.appendChild(actions);
      function step(value) {
        // The route as this answer makes it: the next question on it, or the end.
        var after = {};
        Object.keys(answers).forEach(function (k) { after[k] = answers[k]; });
        if (empty(value)) delete after[q.id]; else after[q.id] = value;
        var next = route(state.questions, after);
        var i = next.map(function (p) { return p.id; }).indexOf(q.id);
        return { answers: after, next: i >= 0 && i + 1 < next.length ? next[i + 1] : null };
      }
      var last = !step(answers[q.id]).next;
      actions.appendChild(button(last ? T.submit_answers : T.next, "primary"));
      // The submit button's words follow the route a single choice makes.
      form.addEventListener("change", function () {
        var value = answerOf(q, form);
        if (value && value.error) return;
        actions.lastChild.textContent = step(value).next ? T.next : T.submit_answers;
      });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var value = answerOf(q, form);
        var local = {};
        if (value && value.error) local["q" + q.id] = value.error;
        else if (q.required && (empty(value) || (typeof value === "string" && !value.trim()))) {
          local["q" + q.id] = T.needs_answer;
        }
        var moved = step(value && value.error ? "" : value);
        var sent = {};
        sent[q.id] = value && value.error ? "" : value;
        var url = d.viewUrl + (moved.next ? "/progress" : "/responses");
        send(form, activity, local, moved.next ? "PUT" : "POST", url, { answers: sent }, function () {
          answers = moved.answers;
          at = moved.next ? moved.next.id : null;
          if (!moved.next) state.submitted = true;
          draw();
        }).then(function (result) {
          // A required question further back left empty: the server names it; show it there.
          var field = result && result.refused && result.refused.field;
          var wanted = state.questions.filter(function (p) { return field === "q" + p.id; })[0];
          if (wanted && wanted.id !== q.id) {
            at = wanted.id;
            var errors = {};
            errors[field] = result.refused.message;
            var again = draw();
            if (again) showErrors(again, errors);
          }
        });
      });
      box.appendChild(form);
      done();
      return form;
    }
    view(d.viewUrl).then(function (got) {
      state = got;
      Object.keys(got.answers).forEach(function (k) { answers[k] = got.answers[k]; });
      at = got.next_question_id;
      draw();
    }, broken);
  }

  // ---- Q&A --------------------------------------------------------------------------------

  function qa(activity) {
    var sort = "votes";
    var message = null;
    var typed = { text: "", nickname: "" };
    var form = null;
    function item(q, board) {
      var li = el("li", "qa-item");
      li.setAttribute("data-question", q.id);
      var vote = el("div", "qa-vote");
      var count = el("span", "qa-count", String(q.upvotes));
      count.setAttribute("aria-label", T.upvotes);
      vote.appendChild(count);
      if (board.my_upvotes.indexOf(q.id) >= 0) {
        var mine = el("span", "muted", "✓");
        mine.title = T.upvoted;
        vote.appendChild(mine);
      } else if (board.open) {
        var up = button("▲", "", "button");
        up.setAttribute("aria-label", T.upvote + "：" + q.text.slice(0, 40));
        up.addEventListener("click", function () {
          send(form || box, activity, {}, "POST", d.viewUrl + "/questions/" + q.id + "/upvotes", {},
            function () { message = notice(T.upvote_counted); return load(); });
        });
        vote.appendChild(up);
      }
      li.appendChild(vote);
      var text = el("div", "qa-text");
      if (q.pinned) text.appendChild(el("span", "qa-tag", T.now_answering));
      if (q.answered) text.appendChild(el("span", "qa-tag answered", T.answered));
      text.appendChild(el("p", "", q.text));
      text.appendChild(el("p", "qa-who", (q.nickname || T.anonymous) + " · " + when(q.created_at)));
      li.appendChild(text);
      return li;
    }
    function askForm(board) {
      var f = el("form", "embed-qa");
      f.noValidate = true;
      f.appendChild(formAlert());
      var area = field(f, "textarea", "text", T.your_question, 500, typed.text);
      var nick = field(f, "input", "nickname", T.nickname, 40, typed.nickname);
      if (activity.needs_consent) f.appendChild(consentBox(activity));
      f.appendChild(button(T.ask, "primary block"));
      f.addEventListener("input", function () { typed = { text: area.value, nickname: nick.value }; });
      f.addEventListener("submit", function (event) {
        event.preventDefault();
        var text = area.value.trim();
        var local = {};
        if (text.length < 2) local.text = fill(T.at_least, { n: 2 });
        var body = { text: text, nickname: nick.value.trim() };
        send(f, activity, local, "POST", d.viewUrl + "/questions", body, function (r) {
          typed = { text: "", nickname: "" };
          message = notice(r.body.visible ? T.asked : T.asked_waiting);
          return load();
        }, { text: fill(T.at_least, { n: 2 }), nickname: T.invalid });
      });
      return f;
    }
    var part = null;  // the questions, which the live stream redraws alone
    function drawList(board) {
      part.textContent = "";
      if (board.my_waiting.length) {
        part.appendChild(el("p", "muted", T.waiting));
        var waiting = el("ul");
        board.my_waiting.forEach(function (q) { waiting.appendChild(el("li", "muted", q.text)); });
        part.appendChild(waiting);
      }
      var sorter = el("p", "qa-sort", T.sort);
      [["votes", T.most_upvoted], ["time", T.newest]].forEach(function (s) {
        var b = button(s[1], "", "button");
        b.setAttribute("aria-pressed", s[0] === sort ? "true" : "false");
        b.addEventListener("click", function () { sort = s[0]; refresh(0); });
        sorter.appendChild(b);
      });
      part.appendChild(sorter);
      if (board.questions.length) {
        var list = el("ol", "qa-list");
        board.questions.forEach(function (q) { list.appendChild(item(q, board)); });
        part.appendChild(list);
      } else {
        part.appendChild(el("p", "muted", T.no_questions));
      }
      done();
    }
    function draw(board) {
      box.textContent = "";
      if (message) { box.appendChild(message); message = null; }
      form = board.open ? askForm(board) : null;
      if (form) box.appendChild(form);
      else box.appendChild(formAlert());
      part = el("div", "qa-board");
      box.appendChild(part);
      drawList(board);
    }
    function load() { return view(d.viewUrl + "?sort=" + sort).then(draw, broken); }
    // The board changed (a question shown, an upvote anywhere): the list again, leaving the
    // question being typed as it is.
    var timer = null;
    function refresh(wait) {
      clearTimeout(timer);
      timer = setTimeout(function () {
        view(d.viewUrl + "?sort=" + sort).then(function (board) { if (part) drawList(board); },
          function () { /* the next change tries again */ });
      }, wait);
    }
    if (d.liveUrl && window.EventSource) {
      new EventSource(d.liveUrl).addEventListener("questions", function () { refresh(250); });
    }
    load();
  }

  F.register("quiz", quiz);
  F.register("survey", survey);
  F.register("qa", qa);
})();
