"""The browser demo's library side (app.py lays out the page and calls these; none of them imports gradio at import).

- :mod:`mer.demo.shelf`: the checkpoints the page offers, each loaded once, with names a visitor understands;
- :mod:`mer.demo.card`: a checkpoint's card in plain words, with its real-video figures beside the synthetic ones;
- :mod:`mer.demo.media`: what the visitor gave: the fields, the video file (readable? long enough? its frame
  rate), a playable preview, the per-request folders;
- :mod:`mer.demo.analyse`: one request: the fields checked, the Predictor called, its answer viewed;
- :mod:`mer.demo.view`: the view of a Prediction (headline, pictures, maps, notes, JSON) for the page and
  ``mer predict --save-dir``: it presents, it derives nothing;
- :mod:`mer.demo.plots`: the plotly charts of that view (probabilities, the timeline).
"""
