// Where the activity lives: the IM2 site (https, in the mini-program's domain lists), the
// campaign's slug and the activity's id (the console shows both in 嵌入到你的网站).
module.exports = {
  IM2_HOST: "https://im2.example.com",
  CAMPAIGN: "spring-vote",
  ACTIVITY: 12,
};
