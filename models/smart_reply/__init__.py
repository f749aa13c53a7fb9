"""Smart Reply (Kannan et al., KDD 2016; Google Allo): trigger, LSTM context encoder →
semantic response classes, response scoring by beam search over a trie of the response set."""
