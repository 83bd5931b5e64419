"""The outputs of one analysis: the faces.csv table (:mod:`.table`), the summary
(:mod:`.summary`), the people files (:mod:`.people`, :mod:`.people_plot`), the overlay video
(:mod:`.overlay`), and writing them all or none (:mod:`.save`)."""
