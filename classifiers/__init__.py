"""The Appendix I content classifier: taxonomy, mail text, normalisation, training,
evaluation and inference. Works on text and returns scores; knows nothing of SMTP."""
