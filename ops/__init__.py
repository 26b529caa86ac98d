"""Operations: starting and stopping the three processes together."""
