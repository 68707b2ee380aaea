"""WeChat: a workspace's official account, the JS-SDK share card and web OAuth (docs/wechat.md)."""
