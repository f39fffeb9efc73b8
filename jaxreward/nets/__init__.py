"""Network building blocks shared by learners and learned rewards."""
