// Inside WeChat (docs/wechat.md): sign in once with WeChat (silent snsapi_base unless the brand
// asks for the nickname), then configure the JS-SDK with the server's signature for this page
// and set the share card. Any failure leaves the page as it is: no card, nothing broken.
(function () {
  "use strict";
  var me = document.currentScript;
  var card = me && me.getAttribute("data-card");
  if (!card) return;
  var page = location.href.split("#")[0];
  fetch(card + "?url=" + encodeURIComponent(page), { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (c) {
      if (!c) return;
      var tried = false;
      try { tried = sessionStorage.getItem("im2-wx-login") === "1"; } catch (e) { tried = true; }
      if (c.login && !tried) {
        try { sessionStorage.setItem("im2-wx-login", "1"); } catch (e) { /* private mode */ }
        location.replace(c.login);
        return;
      }
      var wx = window.wx;
      if (!wx) return;
      wx.config({
        debug: false,
        appId: c.appId,
        timestamp: c.timestamp,
        nonceStr: c.nonceStr,
        signature: c.signature,
        jsApiList: ["updateAppMessageShareData", "updateTimelineShareData"]
      });
      wx.ready(function () {
        var shared = { title: c.title, desc: c.desc, link: c.link, imgUrl: c.imgUrl };
        wx.updateAppMessageShareData(shared);
        wx.updateTimelineShareData({ title: c.title, link: c.link, imgUrl: c.imgUrl });
        document.documentElement.setAttribute("data-wechat-card", "ready");
      });
      document.documentElement.setAttribute("data-wechat-card", "configured");
    })
    .catch(function () { /* no card: the page works as anywhere else */ });
})();
