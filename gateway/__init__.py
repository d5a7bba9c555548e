"""aupgate's mail gateway: the SMTP relay, its checks, its policy and its delivery."""
