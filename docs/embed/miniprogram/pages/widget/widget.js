const { IM2_HOST, CAMPAIGN, ACTIVITY } = require("../../config.js");

Page({
  data: { src: `${IM2_HOST}/e/${CAMPAIGN}/${ACTIVITY}` },
});
