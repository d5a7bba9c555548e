"""The quarantine: the store of everything aupgate keeps, and the reviewers' web app.

It never imports `gateway`: a release is a row here that the gateway's delivery job
picks up and delivers.
"""
