def reward_function(params):
    """Follow the centre line: the closer the car stays to it, the higher the reward.

    The DeepRacer console's first example reward: three bands around the centre line,
    and almost nothing once the car is near the border.
    """
    track_width = params["track_width"]
    distance_from_center = params["distance_from_center"]

    if not params["all_wheels_on_track"]:
        return 1e-3
    if distance_from_center <= 0.1 * track_width:
        return 1.0
    if distance_from_center <= 0.25 * track_width:
        return 0.5
    if distance_from_center <= 0.5 * track_width:
        return 0.1
    return 1e-3
