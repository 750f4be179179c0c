"""What a trained model is at run time: bundle, features, inference, routing, policy."""
