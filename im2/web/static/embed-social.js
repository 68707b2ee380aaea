/* UGC contest, group-buy and referral in the frame (docs/embed.md): the formats a visitor
   shares. Loaded after embed-kit.js, only by the frames of these formats; the links to share
   are copied from a box (K.copyBox), the entry's photo goes as multipart. */
(function () {
  "use strict";
  var F = window.IM2Frame, K = F && F.kit;
  if (!K) return;
  var T = K.T, d = F.data, el = F.el, box = K.box, fill = K.fill, done = K.done, view = K.view;
  var broken = K.broken, send = K.send, notice = K.notice, heading = K.heading, button = K.button;

  // ---- UGC contest ------------------------------------------------------------------------

  function entryCard(entry, state, vote) {
    var li = el("li", "ugc-entry");
    li.setAttribute("data-entry", entry.id);
    if (entry.image_url) {
      var img = el("img");
      img.src = entry.image_url;
      img.alt = entry.caption || T.photo;
      img.loading = "lazy";
      li.appendChild(img);
    }
    if (entry.caption) li.appendChild(el("p", "ugc-caption", entry.caption));
    var foot = el("div", "ugc-foot");
    foot.appendChild(el("span", "qa-who", entry.nickname || T.anonymous));
    var count = el("span", "ugc-votes", fill(T.n_votes, { n: entry.votes }));
    count.setAttribute("data-votes", String(entry.votes));
    foot.appendChild(count);
    if (vote) {
      if (state.voted_today.indexOf(entry.id) >= 0) foot.appendChild(el("span", "muted", "✓ " + T.voted));
      else if (state.open && state.votes_left_today > 0) {
        var b = button(T.vote, "", "button");
        b.setAttribute("aria-label", T.vote_for);
        b.addEventListener("click", function () { vote(entry); });
        foot.appendChild(b);
      }
    }
    li.appendChild(foot);
    return li;
  }

  function ugcForm(activity, state, sent) {
    var form = el("form", "embed-ugc");
    form.noValidate = true;
    form.appendChild(K.formAlert());
    var caption = K.field(form, "textarea", "caption", T.caption, 1000);
    var file = null;
    var mb = Math.floor(state.max_image_bytes / (1024 * 1024));
    if (state.allow_images) {
      var label = el("label", "", fill(T.photo_at_most, { n: mb }));
      label.htmlFor = "embed-image";
      form.appendChild(label);
      form.appendChild(K.errorSlot("image"));
      // The browser's own file box speaks the browser's language: a button of the page's
      // words opens it instead, and the chosen file's name stands next to it.
      var row = el("div", "file-row");
      file = el("input", "sr-only");
      file.type = "file";
      file.id = "embed-image";
      file.name = "image";
      file.accept = state.image_types.join(",");
      var pick = el("label", "button", T.choose_photo);
      pick.htmlFor = "embed-image";
      var chosen = el("span", "muted file-name", T.no_photo);
      file.addEventListener("change", function () {
        chosen.textContent = file.files && file.files[0] ? file.files[0].name : T.no_photo;
      });
      row.appendChild(file);
      row.appendChild(pick);
      row.appendChild(chosen);
      form.appendChild(row);
    }
    var nick = K.field(form, "input", "nickname", T.nickname, 40);
    if (activity.needs_consent) form.appendChild(K.consentBox(activity));
    form.appendChild(button(T.send_entry, "primary block"));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var local = {};
      var picked = file && file.files && file.files[0];
      if (picked && picked.size > state.max_image_bytes) local.image = fill(T.photo_too_big, { n: mb });
      else if (picked && state.image_types.indexOf(picked.type) < 0) local.image = T.photo_kind;
      if (!picked && caption.value.trim().length < 2) local.caption = T.add_something;
      var body = new FormData();
      body.set("caption", caption.value.trim());
      body.set("nickname", nick.value.trim());
      if (picked) body.set("image", picked);
      send(form, activity, local, "POST", d.viewUrl + "/entries", body, sent,
        { caption: T.invalid, nickname: T.invalid });
    });
    return form;
  }

  function ugc(activity) {
    var message = null;
    function draw(state) {
      box.textContent = "";
      if (message) { box.appendChild(message); message = null; }
      if (state.hashtag) box.appendChild(el("p", "muted", "#" + state.hashtag + "#"));
      var form = null;
      if (state.open && state.entries_left > 0) {
        form = ugcForm(activity, state, function (r) {
          message = notice(r.body.in_gallery ? T.entry_in_gallery : T.entry_waiting);
          return load();
        });
        box.appendChild(form);
      } else if (state.open) {
        box.appendChild(el("p", "muted", fill(T.entries_used, { n: state.entries_per_participant })));
      }
      if (state.my_entries.length) {
        box.appendChild(heading(T.my_entries, "h3"));
        var mine = el("ul", "my-entries");
        state.my_entries.forEach(function (e) {
          var li = el("li", "", (e.caption || T.photo) + " · " + (T.entry_status[e.status] || ""));
          li.setAttribute("data-mine", e.status);
          mine.appendChild(li);
        });
        box.appendChild(mine);
      }
      box.appendChild(heading(T.gallery, "h3"));
      var left = el("p", "meta", fill(T.votes_left, { n: state.votes_left_today }));
      left.setAttribute("data-votes-left", String(state.votes_left_today));
      box.appendChild(left);
      var holder = form || box;
      if (!form) { holder = el("form"); holder.appendChild(K.formAlert()); box.appendChild(holder); }
      if (state.entries.length) {
        var list = el("ul", "ugc-gallery");
        state.entries.forEach(function (entry) {
          list.appendChild(entryCard(entry, state, function (chosen) {
            send(holder, activity, {}, "POST", d.viewUrl + "/entries/" + chosen.id + "/votes", {}, function () {
              message = notice(T.vote_counted);
              return load();
            });
          }));
        });
        box.appendChild(list);
      } else {
        box.appendChild(el("p", "muted", T.no_entries));
      }
      done();
    }
    function load() { return view(d.viewUrl).then(draw, broken); }
    load();
  }

  // ---- group-buy --------------------------------------------------------------------------

  function money(value) { return "¥" + value; }

  function teamLine(team) {
    var p = el("p", "team-line", fill(T.members_of, { members: team.members, size: team.size }));
    if (team.status === "open" && team.slots_left) p.textContent += " · " + fill(T.more_needed, { n: team.slots_left });
    if (team.status === "open") p.textContent += " · " + T.open_until + " " + K.when(team.expires_at);
    return p;
  }

  function groupbuy(activity) {
    var message = null;
    function join(team, holder) {
      send(holder, activity, {}, "POST", d.viewUrl + "/teams/" + encodeURIComponent(team.code) + "/members", {},
        function () { message = notice(T.joined_team); return load(); });
    }
    function draw(state) {
      box.textContent = "";
      if (message) { box.appendChild(message); message = null; }
      var offer = el("div", "offer");
      offer.appendChild(el("p", "", "")).appendChild(el("strong", "", state.offer.product));
      var price = el("p", "price");
      price.appendChild(el("span", "deal", money(state.offer.price)));
      price.appendChild(document.createTextNode(" "));
      price.appendChild(el("s", "muted", money(state.offer.original_price)));
      offer.appendChild(price);
      offer.appendChild(el("p", "muted", fill(T.team_rule, { n: state.offer.team_size, hours: state.offer.hours })));
      box.appendChild(offer);
      var mine = state.my_team;
      if (mine) {
        var section = el("section", "my-team");
        section.setAttribute("data-team", mine.code);
        section.setAttribute("data-status", mine.status);
        section.appendChild(heading(T.my_team + " · " + (T.team_status[mine.status] || ""), "h3"));
        section.appendChild(teamLine(mine));
        if (mine.status === "open") {
          section.appendChild(el("p", "muted", T.in_team));
          section.appendChild(el("p", "", T.share_team));
          section.appendChild(K.copyBox(location.origin + mine.share_path, T.share_team));
        } else if (mine.status === "succeeded") {
          section.appendChild(notice(fill(T.team_full, { n: mine.size })));
        } else {
          section.appendChild(el("p", "muted", T.team_failed));
        }
        box.appendChild(section);
      }
      var form = null;
      if (state.can_open) {
        form = K.actionForm(activity, fill(T.open_team, { price: state.offer.price }), d.viewUrl + "/teams",
          function () { message = notice(T.team_opened); return load(); });
        box.appendChild(form);
      }
      var others = state.open_teams.filter(function (t) { return !mine || t.code !== mine.code; });
      if (others.length) {
        var holder = form;
        if (!holder) { holder = el("form"); holder.appendChild(K.formAlert()); box.appendChild(holder); }
        if (!form && activity.needs_consent) holder.appendChild(K.consentBox(activity));
        box.appendChild(heading(T.teams_to_join, "h3"));
        var list = el("ul", "teams");
        others.forEach(function (team) {
          var li = el("li", "team");
          li.setAttribute("data-team", team.code);
          li.appendChild(teamLine(team));
          var b = button(fill(T.join_team, { price: state.offer.price }), "", "button");
          b.addEventListener("click", function () { join(team, holder); });
          li.appendChild(b);
          list.appendChild(li);
        });
        box.appendChild(list);
      }
      done();
    }
    function load() { return view(d.viewUrl).then(draw, broken); }
    load();
  }

  // ---- referral ---------------------------------------------------------------------------

  function rewardsOf(state) {
    var list = el("ul", "rewards");
    if (state.inviter_reward) list.appendChild(el("li", "", fill(T.per_friend, { reward: state.inviter_reward })));
    if (state.invitee_reward) list.appendChild(el("li", "", fill(T.friend_gets, { reward: state.invitee_reward })));
    if (state.level2_reward) list.appendChild(el("li", "", fill(T.level2, { reward: state.level2_reward })));
    return list;
  }

  function referral(activity) {
    var message = null;
    function draw(state) {
      box.textContent = "";
      if (message) { box.appendChild(message); message = null; }
      if (state.invited_by) box.appendChild(el("p", "", fill(T.invited_by, { name: state.invited_by })));
      box.appendChild(rewardsOf(state));
      box.appendChild(el("p", "muted", T.counts_when + " " + (T.qualify[state.qualify_on] || "")));
      if (state.share_url) {
        box.appendChild(heading(T.my_link, "h3"));
        box.appendChild(K.copyBox(state.share_url, T.my_link));
      } else if (!state.closed_reason) {
        box.appendChild(K.actionForm(activity, T.get_link, d.viewUrl + "/link", function () {
          message = notice(T.link_ready);
          return load();
        }));
      }
      if (state.joined) {
        box.appendChild(heading(T.my_progress, "h3"));
        var line = fill(T.qualified_n, { n: state.qualified });
        if (state.pending) line += " · " + fill(T.waiting_n, { n: state.pending });
        if (state.held) line += " · " + fill(T.checked_n, { n: state.held });
        if (state.rank) line += " · " + fill(T.rank_n, { n: state.rank });
        var progress = el("p", "", line);
        progress.setAttribute("data-qualified", String(state.qualified));
        box.appendChild(progress);
        if (state.milestones.length) {
          var steps = el("ul", "milestones");
          state.milestones.forEach(function (m) {
            steps.appendChild(el("li", m.reached ? "reached" : "", fill(T.n_friends, { n: m.friends }) + " → " +
              m.reward + "：" + (m.reached ? T.reached : fill(T.more_to_go, { n: m.missing }))));
          });
          box.appendChild(steps);
        }
        box.appendChild(heading(T.friends, "h3"));
        if (state.friends.length) {
          var friends = el("ul", "friends");
          state.friends.forEach(function (f) {
            friends.appendChild(el("li", "", f.name + " · " + (T.invite_status[f.status] || "")));
          });
          box.appendChild(friends);
        } else {
          box.appendChild(el("p", "muted", T.nobody_yet));
        }
      }
      done();
    }
    function load() { return view(d.viewUrl).then(draw, broken); }
    load();
  }

  F.register("ugc", ugc);
  F.register("groupbuy", groupbuy);
  F.register("referral", referral);
})();
