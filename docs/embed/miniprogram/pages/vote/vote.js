// A native vote page on IM2's public JSON API (docs/embed.md, section 4). The IM2 domain must
// be in request 合法域名. The widget token is this install's identity: keep it.
const { IM2_HOST, CAMPAIGN, ACTIVITY } = require("../../config.js");
const KEY = `im2:token:${CAMPAIGN}`;

function call(method, path, token, data) {
  return new Promise((resolve) => {
    wx.request({
      url: IM2_HOST + path,
      method,
      data,
      header: { "X-IM2-Token": token || "", "Accept-Language": "zh-CN" },
      success: (res) => resolve(res),
      fail: () => resolve({ statusCode: 0, data: {} }),
    });
  });
}

async function token() {
  let value = wx.getStorageSync(KEY);
  if (!value) {
    const res = await call("POST", `/api/v1/public/campaigns/${CAMPAIGN}/tokens`);
    if (res.statusCode !== 201) throw new Error("no token");
    value = res.data.token;
    wx.setStorageSync(KEY, value);
  }
  return value;
}

Page({
  data: { activity: null, chosen: null, agreed: false, busy: false, error: "" },

  async onLoad() {
    await this.load();
  },

  async load() {
    const res = await call("GET", `/api/v1/public/campaigns/${CAMPAIGN}/activities/${ACTIVITY}`, await token());
    if (res.statusCode === 200) this.setData({ activity: res.data });
    else this.setData({ error: (res.data.error && res.data.error.message) || "加载失败，请重试。" });
  },

  choose(e) { this.setData({ chosen: Number(e.detail.value) }); },
  agree(e) { this.setData({ agreed: e.detail.value.length > 0 }); },

  async vote() {
    if (!this.data.chosen) { this.setData({ error: "请至少选择一项。" }); return; }
    this.setData({ busy: true, error: "" });
    const res = await call("POST", this.data.activity.poll.vote_url, await token(), {
      options: [this.data.chosen],
      consent: this.data.agreed,
    });
    this.setData({ busy: false });
    if (res.statusCode === 201) await this.load();
    else this.setData({ error: (res.data.error && res.data.error.message) || "投票失败，请重试。" });
  },
});
