import bitstream, deltaram, procedura_sdk, procedura_cli, procedura_devserver, websockets, zstandard, click, hypothesis
def test_import():
    assert bitstream.__version__
    assert websockets.version.version.startswith("11.")
