/* Daily check-in, lucky draw and 集卡 in the frame (docs/embed.md). Loaded after embed-kit.js,
   only by the frames of these formats; each renderer draws its view (`view_url`) again after
   every action it takes. */
(function () {
  "use strict";
  var F = window.IM2Frame, K = F && F.kit;
  if (!K) return;
  var T = K.T, d = F.data, el = F.el, box = K.box, fill = K.fill, done = K.done, view = K.view;
  var broken = K.broken, send = K.send, notice = K.notice, heading = K.heading, button = K.button;

  function percent(share) { return (share * 100).toFixed(share < 0.1 ? 2 : 1) + "%"; }

  // ---- check-in ---------------------------------------------------------------------------

  function calendar(state, go) {
    var table = el("table", "calendar");
    var caption = el("caption");
    if (state.previous_month) {
      var back = button("‹", "month-step", "button");
      back.setAttribute("aria-label", T.previous_month);
      back.addEventListener("click", function () { go(state.previous_month); });
      caption.appendChild(back);
    }
    caption.appendChild(el("span", "month", state.month));
    if (state.next_month) {
      var on = button("›", "month-step", "button");
      on.setAttribute("aria-label", T.next_month);
      on.addEventListener("click", function () { go(state.next_month); });
      caption.appendChild(on);
    }
    table.appendChild(caption);
    var head = el("tr");
    T.weekdays.forEach(function (day) { head.appendChild(el("th", "", day)); });
    table.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    state.weeks.forEach(function (week) {
      var row = el("tr");
      week.forEach(function (day) {
        var cls = (day.checked ? "checked" : "") + (day.today ? " today" : "") + (day.in_month ? "" : " muted");
        var cell = el("td", cls.trim(), String(day.number) + (day.checked ? " ✓" : ""));
        if (day.checked) {
          cell.setAttribute("data-checked", day.day);
          cell.setAttribute("aria-label", day.day + " " + T.checked_in);
        }
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    table.appendChild(body);
    return table;
  }

  function checkin(activity) {
    var message = null;
    var month = "";
    function draw(state) {
      box.textContent = "";
      if (message) { box.appendChild(message); message = null; }
      var line = el("p", "streak");
      var streak = el("strong", "", fill(T.streak, { n: state.current_streak }));
      streak.setAttribute("data-streak", String(state.current_streak));
      line.appendChild(streak);
      line.appendChild(document.createTextNode(" · " + fill(T.best, { n: state.best_streak }) +
        " · " + fill(T.days_in_all, { n: state.total_days })));
      box.appendChild(line);
      if (state.next_milestone) {
        box.appendChild(el("p", "muted", fill(T.to_milestone, { n: state.next_milestone - state.current_streak })));
      }
      if (state.checked_today) box.appendChild(el("p", "muted", T.checked_today));
      if (state.can_check_in) {
        box.appendChild(K.actionForm(activity, T.check_in, d.viewUrl + "/checkins", function (r) {
          var got = r.body;
          var text = got.milestone ? fill(T.milestone_reached, { n: got.milestone }) : T.checked_in_done;
          if (got.held_for_review) text = T.held_review;
          message = notice(text);
          month = "";
          return load();
        }));
      }
      if (state.milestones.length) {
        box.appendChild(heading(T.milestones, "h3"));
        var list = el("ul", "milestones");
        state.milestones.forEach(function (m) {
          var reached = state.best_streak >= m;
          var li = el("li", reached ? "reached" : "", fill(T.n_days, { n: m }) + (reached ? " ✓ " + T.reached : ""));
          list.appendChild(li);
        });
        box.appendChild(list);
      }
      box.appendChild(calendar(state, function (wanted) { month = wanted; load(); }));
      done();
    }
    function load() { return view(d.viewUrl + (month ? "?month=" + month : "")).then(draw, broken); }
    load();
  }

  // ---- lucky draw -------------------------------------------------------------------------

  function luckyDraw(activity) {
    var message = null;
    function outcome(state) {
      if (state.prize) return notice(fill(T.won, { prize: state.prize }));
      if (state.held_for_review) return el("p", "muted", T.entry_review);
      if (state.mode === "instant") return el("p", "muted", T.not_this_time);
      if (state.drawn) return el("p", "muted", T.did_not_win);
      return el("p", "muted", fill(T.in_draw, { id: state.entry_id }));
    }
    function draw(state) {
      box.textContent = "";
      if (message) { box.appendChild(message); message = null; }
      if (state.entered) {
        var result = outcome(state);
        result.setAttribute("data-outcome", state.prize ? "won" : "entered");
        box.appendChild(result);
      } else if (state.closed_reason && state.closed_reason !== activity.closed_reason) {
        box.appendChild(el("p", "closed", state.closed_reason));
      }
      if (state.can_enter) {
        var label = state.mode === "instant" ? T.draw_now : T.enter_draw;
        box.appendChild(K.actionForm(activity, label, d.viewUrl + "/entries", function () {
          message = null;
          return load();
        }));
      }
      box.appendChild(heading(T.prizes, "h3"));
      var list = el("ul", "prizes");
      state.prizes.forEach(function (p) {
        var line = p.name + " · " + fill(T.left_of, { left: p.left, total: p.units });
        if (state.mode === "instant") line += " · " + T.chance + " " + percent(p.odds);
        list.appendChild(el("li", "", line));
      });
      box.appendChild(list);
      var meta = T.entries + " " + state.entries;
      if (state.draw_at) meta += " · " + T.draw_time + " " + K.when(state.draw_at);
      box.appendChild(el("p", "meta", meta));
      done();
    }
    function load() { return view(d.viewUrl).then(draw, broken); }
    load();
  }

  // ---- 集卡 -------------------------------------------------------------------------------

  function cards(activity) {
    var message = null;
    function gifts(state) {
      var wrap = el("div", "gifts");
      if (state.giftable.length && state.open) {
        var form = el("form", "embed-gift");
        form.noValidate = true;
        form.appendChild(K.formAlert());
        var label = el("label", "", T.give_card);
        label.htmlFor = "embed-item";
        form.appendChild(label);
        form.appendChild(K.errorSlot("item_id"));
        var select = el("select");
        select.id = "embed-item";
        select.name = "item_id";
        state.giftable.forEach(function (c) {
          var o = el("option", "", c.name);
          o.value = String(c.item_id);
          select.appendChild(o);
        });
        form.appendChild(select);
        form.appendChild(button(T.make_gift, "block"));
        form.addEventListener("submit", function (event) {
          event.preventDefault();
          send(form, activity, {}, "POST", d.viewUrl + "/gifts", { item_id: Number(select.value) }, function () {
            message = notice(T.gift_ready);
            return load();
          });
        });
        wrap.appendChild(form);
      }
      if (state.open_gifts.length) {
        wrap.appendChild(heading(T.my_gifts, "h3"));
        state.open_gifts.forEach(function (g) {
          var item = el("div", "gift");
          item.setAttribute("data-gift", g.code);
          item.appendChild(el("p", "", g.card_name + " · " + T.open_until + " " + K.when(g.expires_at)));
          var url = location.origin + d.pageUrl + "?gift=" + encodeURIComponent(g.code);
          item.appendChild(K.copyBox(url, T.my_gifts));
          wrap.appendChild(item);
        });
      }
      return wrap;
    }
    function draw(state) {
      box.textContent = "";
      if (message) { box.appendChild(message); message = null; }
      if (state.set_completed) box.appendChild(notice(fill(T.full_set, { n: state.set_points })));
      box.appendChild(el("p", "muted", fill(T.cards_how, { n: state.set_points })));
      box.appendChild(heading(T.my_cards, "h3"));
      var have = state.cards.filter(function (c) { return c.count > 0; }).length;
      box.appendChild(el("p", "meta", fill(T.collected, { have: have, total: state.cards.length })));
      var grid = el("ul", "cards-grid");
      state.cards.forEach(function (c) {
        var li = el("li", c.count ? "have" : "missing");
        li.setAttribute("data-card", c.key);
        li.appendChild(el("strong", "", c.name));
        li.appendChild(el("span", "count", "× " + c.count));
        li.appendChild(el("span", "odds", T.chance + " " + percent(c.odds)));
        grid.appendChild(li);
      });
      box.appendChild(grid);
      if (!state.joined) box.appendChild(el("p", "muted", T.no_cards));
      box.appendChild(gifts(state));
      done();
    }
    function load() { return view(d.viewUrl).then(draw, broken); }
    load();
  }

  F.register("checkin", checkin);
  F.register("draw", luckyDraw);
  F.register("cards", cards);
})();
